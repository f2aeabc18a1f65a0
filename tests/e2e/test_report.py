#!/usr/bin/env python3
"""quench report in a real browser: headless Chromium (Debian's chromium package) driven over the
DevTools protocol on a pipe, with the Python standard library only. The page must load with no
console error, every chart must have a non-zero size, the summary and the per-tensor SQNR must
equal what `quench compare --json` prints, and the page must hold no script and fetch nothing.
The screenshot is kept in the build folder (e2e_report/report.png). Exit 77 (skipped) when
chromium is not installed."""
import argparse, base64, json, os, shutil, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CNN = os.path.join(ROOT, "models", "fmnist", "cnn.onnx")
SKIP = 77
LIMIT = "64"


class DevTools:
    """The DevTools protocol over --remote-debugging-pipe: JSON messages ended by NUL, commands
    on the browser's fd 3, replies and events on its fd 4."""

    def __init__(self, chromium, profile):
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def child_fds():
            # Through fresh copies: dup2 onto the same number would keep close-on-exec.
            r, w = os.dup(to_browser_r), os.dup(from_browser_w)
            os.dup2(r, 3)
            os.dup2(w, 4)

        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--remote-debugging-pipe", f"--user-data-dir={profile}", "--window-size=1200,1600",
             "about:blank"],
            preexec_fn=child_fds, close_fds=False, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def _read(self):
        while b"\0" not in self.buffer:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        while True:
            m = self._read()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


MEASURE = """(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect(); return [r.width, r.height]; });
  const summary = {};
  for (const td of document.querySelectorAll('#summary td[data-key]'))
    summary[td.dataset.key] = td.dataset.value;
  const bars = [...document.querySelectorAll('#sqnr-chart g.bar')].map(
    g => [g.dataset.name, g.dataset.sqnr]);
  const outputs = [...document.querySelectorAll('#outputs tr[data-name]')].map(
    r => [r.dataset.name, r.dataset.sqnr, r.dataset.top1]);
  return JSON.stringify({charts, summary, bars, outputs,
                         commands: document.querySelector('#commands').innerText});
})()"""


def number(text):
    return float(text)  # "inf" parses too


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        print("skipped: chromium is not installed (scripts/install-deps.sh installs it)")
        return SKIP
    quench = os.path.join(a.build, "quench")
    artifacts = os.path.abspath(os.path.join(a.build, "e2e_report"))
    os.makedirs(artifacts, exist_ok=True)
    failures = []

    def check(ok, label):
        print(("ok      " if ok else "FAILED  ") + label)
        if not ok:
            failures.append(label)

    with tempfile.TemporaryDirectory() as tmp:
        int8 = os.path.join(tmp, "cnn.int8.onnx")
        subprocess.run([quench, "quantize", CNN, "-o", int8, "--calib", "fmnist:train",
                        "--calib-size", "64"], check=True, capture_output=True)
        bad = subprocess.run([quench, "report", CNN, int8, "-o", os.path.join(tmp, "no", "r.html")],
                             capture_output=True, text=True)
        check(bad.returncode == 5 and "does not exist" in bad.stderr, "unwritable report path: exit 5")
        page = os.path.join(artifacts, "report.html")
        subprocess.run([quench, "report", CNN, int8, "--limit", LIMIT, "--threads", "1", "-o", page],
                       check=True, capture_output=True)
        md = os.path.join(artifacts, "report.md")
        subprocess.run([quench, "report", CNN, int8, "--limit", LIMIT, "--threads", "1", "-o", md,
                        "--format", "md"], check=True, capture_output=True)
        out = subprocess.run([quench, "compare", CNN, int8, "--limit", LIMIT, "--threads", "1",
                              "--json"], check=True, capture_output=True, text=True).stdout
        ref = json.loads(out.strip().splitlines()[-1])

        html = open(page, encoding="utf-8").read()
        check("<script" not in html.lower(), "no script in the page")
        external = [w for w in ("src=", "href=", "@import", "url(") if w in html]
        check(not external, f"nothing fetched from elsewhere ({external})")
        check(open(md, encoding="utf-8").read().startswith("# quench report"), "markdown written")

        browser = DevTools(chromium, os.path.join(tmp, "profile"))
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
                "sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                browser.call(f"{domain}.enable", session=session)
            browser.events.clear()  # about:blank's own load event
            browser.call("Page.navigate", {"url": "file://" + page}, session=session)
            url = "file://" + page
            for _ in range(400):  # polled: about:blank's own load event may come late
                time.sleep(0.05)
                state = browser.call("Runtime.evaluate", {
                    "expression": "location.href + ' ' + document.readyState",
                    "returnByValue": True}, session=session)["result"]["value"]
                if state == url + " complete":
                    break
            else:
                raise RuntimeError(f"the page did not load: {state}")
            evaluated = browser.call("Runtime.evaluate", {"expression": MEASURE,
                                                          "returnByValue": True}, session=session)
            if "exceptionDetails" in evaluated:
                raise RuntimeError(f"measuring the page failed: {evaluated['exceptionDetails']}")
            got = json.loads(evaluated["result"]["value"])
            shot = browser.call("Page.captureScreenshot", {"format": "png",
                                                           "captureBeyondViewport": True},
                                session=session)
            with open(os.path.join(artifacts, "report.png"), "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            errors = []
            for m in browser.events:
                p = m.get("params", {})
                if m.get("method") == "Runtime.exceptionThrown":
                    errors.append(p)
                elif m.get("method") == "Runtime.consoleAPICalled" and p.get("type") == "error":
                    errors.append(p)
                elif m.get("method") == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                    errors.append(p["entry"])
        finally:
            browser.close()

    check(not errors, f"no console errors ({errors[:2]})")
    charts = got["charts"]
    check(len(charts) >= 1 + len(ref["tensors"]), f"{len(charts)} charts: SQNR and one histogram per tensor")
    check(all(w > 0 and h > 0 for w, h in charts), "every chart has a non-zero size")
    check(number(got["summary"]["accuracy_a"]) == ref["accuracy_a"] and
          number(got["summary"]["accuracy_b"]) == ref["accuracy_b"],
          f"summary accuracy equals compare --json ({got['summary']} vs {ref['accuracy_a']}, {ref['accuracy_b']})")
    names = [b[0] for b in got["bars"]]
    check(names == [t["name"] for t in ref["tensors"]], "SQNR bars: compare's tensors, in its order")
    close = all((t["sqnr_db"] is None and number(b[1]) == float("inf")) or
                (t["sqnr_db"] is not None and abs(number(b[1]) - t["sqnr_db"]) <= 1e-9 * max(1, abs(t["sqnr_db"])))
                for b, t in zip(got["bars"], ref["tensors"]))
    check(close, "SQNR bars: compare's figures")
    o = got["outputs"][0]
    check(o[0] == ref["outputs"][0]["name"] and number(o[2]) == ref["outputs"][0]["top1_agreement"],
          "output top-1 agreement equals compare's")
    check("quench quantize" in got["commands"], "the command that made B is shown")
    print(f"screenshot: {os.path.join(artifacts, 'report.png')}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("the report renders and agrees with quench compare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
