import Foundation
import InvoiceTestSupport
import Testing

/// Headless Chromium driven over the DevTools protocol by a small Python client (`websockets`, in the test
/// venv): it opens a page at a phone and a desktop viewport, saves a screenshot of each, then clicks a
/// button with a real mouse event, so the browser itself encodes and submits the form (the page has no
/// JavaScript), and saves the page that the POST answered.
///
/// Chromium runs with `--no-sandbox`: the tests run as root in a throwaway container, where Chromium
/// refuses to start its sandbox; the only page it loads is our own server on loopback.
struct HeadlessChromium {
    /// The browser binary: `INVOICEFLOW_TEST_CHROMIUM`, else Debian's `/usr/bin/chromium`.
    static var binary: String? {
        let path = ProcessInfo.processInfo.environment["INVOICEFLOW_TEST_CHROMIUM"] ?? "/usr/bin/chromium"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Where screenshots go: `INVOICEFLOW_TEST_ARTIFACTS`, else `.build/test-artifacts` in the package.
    static var artifacts: URL {
        if let path = ProcessInfo.processInfo.environment["INVOICEFLOW_TEST_ARTIFACTS"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return SMTPTestServer.packageRoot.appendingPathComponent(".build/test-artifacts")
    }

    /// What one run saw.
    struct Visit: Decodable {
        /// Paths of the screenshots: `phone` and `desktop` of the page, `result` after the click.
        var screenshots: [String: String]
        /// The page's visible text before the click (desktop) and after it.
        var before: String
        var after: String
        /// The address shown after the click.
        var url: String
        /// The page's content width at the phone viewport: wider than 390 means sideways scrolling.
        var phoneContentWidth: Double
    }

    /// Opens `url`, screenshots it as `<name>-phone.png` and `<name>-desktop.png`, clicks `selector` and
    /// screenshots the answer as `<name>-result.png`.
    static func visit(_ url: String, click selector: String, name: String) throws -> Visit {
        let binary = try #require(binary)
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        let arguments: [String: String] = [
            "url": url, "click": selector, "artifacts": artifacts.path, "chromium": binary, "name": name,
        ]
        let process = Process()
        process.executableURL = URL(fileURLWithPath: SMTPTestServer.python)
        process.arguments = [
            "-c", driver, String(decoding: try JSONSerialization.data(withJSONObject: arguments), as: UTF8.self),
        ]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let failure = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BrowserTestFailure("the Chromium driver failed: \(failure)")
        }
        return try JSONDecoder().decode(Visit.self, from: data)
    }

    /// The DevTools client; its arguments arrive as one JSON object.
    static let driver = #"""
        # Drives headless Chromium over the DevTools protocol: opens a URL at two viewports, screenshots each,
        # clicks a button by CSS selector (a real mouse click, so the browser itself submits the form), waits for
        # the resulting page, screenshots it and prints a JSON summary on stdout.
        import asyncio, base64, json, os, re, subprocess, sys, tempfile, urllib.request
        import websockets

        async def main(args):
            url, selector, outdir, chromium = args["url"], args["click"], args["artifacts"], args["chromium"]
            profile = tempfile.mkdtemp(prefix="invoiceflow-chromium-")
            # --no-sandbox: the tests run as root in a throwaway container, where Chromium refuses its sandbox;
            # the only page it loads is our own server on loopback.
            proc = subprocess.Popen([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
                "--remote-allow-origins=*", f"--user-data-dir={profile}", "about:blank"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            try:
                port = None
                for line in proc.stderr:
                    m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                    if m:
                        port = int(m.group(1)); break
                if port is None:
                    raise SystemExit("chromium did not start its DevTools endpoint")
                targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
                page = next(t for t in targets if t["type"] == "page")
                async with websockets.connect(page["webSocketDebuggerUrl"], max_size=64 * 1024 * 1024) as ws:
                    counter = 0
                    events = []
                    async def call(method, **params):
                        nonlocal counter
                        counter += 1
                        my = counter
                        await ws.send(json.dumps({"id": my, "method": method, "params": params}))
                        while True:
                            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                            if msg.get("id") == my:
                                if "error" in msg:
                                    raise RuntimeError(f"{method}: {msg['error']}")
                                return msg.get("result", {})
                            events.append(msg)
                    async def wait_event(name):
                        while True:
                            for i, e in enumerate(events):
                                if e.get("method") == name:
                                    del events[: i + 1]
                                    return e
                            events.clear()
                            msg = json.loads(await asyncio.wait_for(ws.recv(), 30))
                            if msg.get("method") == name:
                                return msg
                    async def shot(name):
                        data = (await call("Page.captureScreenshot", format="png", captureBeyondViewport=False))["data"]
                        path = os.path.join(outdir, name)
                        with open(path, "wb") as f:
                            f.write(base64.b64decode(data))
                        return path
                    async def goto(target):
                        events.clear()
                        await call("Page.navigate", url=target)
                        await wait_event("Page.loadEventFired")
                    async def text():
                        r = await call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
                        return r["result"].get("value", "")
                    await call("Page.enable")
                    await call("Runtime.enable")
                    shots = {}
                    await call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=2, mobile=True)
                    await goto(url)
                    shots["phone"] = await shot(args["name"] + "-phone.png")
                    layout = await call("Page.getLayoutMetrics")
                    phone_width = layout["cssContentSize"]["width"]
                    await call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
                    await goto(url)
                    shots["desktop"] = await shot(args["name"] + "-desktop.png")
                    before = await text()
                    doc = await call("DOM.getDocument", depth=0)
                    node = (await call("DOM.querySelector", nodeId=doc["root"]["nodeId"], selector=selector))["nodeId"]
                    if not node:
                        raise SystemExit(f"no element matches {selector!r}")
                    await call("DOM.scrollIntoViewIfNeeded", nodeId=node)
                    quad = (await call("DOM.getBoxModel", nodeId=node))["model"]["content"]
                    x, y = (quad[0] + quad[4]) / 2, (quad[1] + quad[5]) / 2
                    events.clear()
                    for kind in ("mousePressed", "mouseReleased"):
                        await call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)
                    await wait_event("Page.loadEventFired")
                    shots["result"] = await shot(args["name"] + "-result.png")
                    after = await text()
                    nav = await call("Page.getNavigationHistory")
                    entry = nav["entries"][nav["currentIndex"]]
                    print(json.dumps({"screenshots": shots, "before": before, "after": after, "url": entry["url"],
                                      "phoneContentWidth": phone_width}))
            finally:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                subprocess.run(["rm", "-rf", profile])

        asyncio.run(main(json.loads(sys.argv[1])))
        """#
}

/// A browser test precondition that failed.
struct BrowserTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
