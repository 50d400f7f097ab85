import Foundation
import InvoiceDaemon
import InvoiceTestSupport
import Logging
import PostgresClient
import Testing

@testable import InvoiceWeb

#if canImport(Glibc)
    import Glibc
#endif

/// The action link in a real browser: the daemon runs in-process with its real router, mailer and HTTP
/// server; the mailer delivers the task mail to the test SMTP server; the test takes the link out of the
/// delivered message and headless Chromium opens it, is screenshotted on a desktop and a phone, and
/// approves by pressing the page's button.
@Suite(
    "Browser: the action link of a delivered mail, approved in headless Chromium", .serialized,
    .enabled(if: HeadlessChromium.binary != nil, "chromium is not installed (scripts/install-dependencies)"),
    .enabled(if: SMTPTestServer.isAvailable, "the test Python venv is missing"))
struct BrowserTests {
    @Test(
        "the mailed link opens on a desktop and a phone, and the browser's POST approves the task through the email link"
    )
    func approveInChromium() async throws {
        let relay = try SMTPTestServer()
        defer { relay.stop() }
        let company = try await WebTestCompany.create()
        let dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "browser-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dataDirectory) }
        let port = try Self.freePort()
        let base = "http://127.0.0.1:\(port)"
        let settings = try Configuration(values: [
            "INVOICEFLOW_DATABASE_URL": company.daemonConfiguration.conninfo,
            "INVOICEFLOW_DATA_DIR": dataDirectory.path,
            "INVOICEFLOW_SMTP_URL": "smtp://localhost:\(relay.port)",
            "INVOICEFLOW_SMTP_CA_FILE": relay.caFile,
            "INVOICEFLOW_MAIL_FROM": "InvoiceFlow <noreply@invoiceflow.test>",
            "INVOICEFLOW_PUBLIC_URL": base,
            "INVOICEFLOW_HTTP_ADDRESS": "127.0.0.1:\(port)",
            "INVOICEFLOW_LINK_KEYS": LinkKeyring.generatedText(id: "browser"),
            "INVOICEFLOW_POOL_SIZE": "2",
        ])
        let logger = TestPostgres.silentLogger
        // As `invoiceflow serve` does, before the daemon makes its counters.
        let registry = WebObservability.bootstrapProcessMetrics()
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await Daemon.serve(settings, logger: logger, services: WebServer.services) }
                // petr's operating expense goes to his head of department, olga, first.
                let invoice = try await company.submit(
                    .init(type: "operating_expenses", initiator: "petr", roubles: 100_000))
                let task = try await Self.eventually("olga's approval task") {
                    try await company.tasks(of: invoice, openOnly: true).first { $0.assignee == "olga" }
                }
                try await Self.mailTask(
                    task.id, of: invoice, to: company.employee("olga"), settings: settings,
                    database: company.daemonConfiguration)
                let link = try await Self.eventually("the task mail at the relay") {
                    try Self.actionLink(in: relay, to: "olga@example.com", base: base)
                }

                let visit = try HeadlessChromium.visit(
                    link, click: "form:has(input[name=action][value=approve]) button[type=submit]",
                    name: "action-link")
                for (viewport, path) in visit.screenshots.sorted(by: { $0.key < $1.key }) {
                    // The screenshots are the evidence of this test; say where they are.
                    print("browser screenshot (\(viewport)): \(path)")
                    #expect(try Data(contentsOf: URL(fileURLWithPath: path)).starts(with: [0x89, 0x50, 0x4E, 0x47]))
                }
                #expect(visit.phoneContentWidth <= 390, "the page scrolls sideways on a phone")
                #expect(visit.before.contains("Офисная мебель для отдела логистики"), "the card shows the invoice")
                let decided = try await company.tasks(of: invoice).first { $0.id == task.id }
                #expect(decided?.outcome == "approved", "after the browser's POST: \(visit.after)")
                let channel = try await company.admin.query(
                    """
                    SELECT channel FROM invoiceflow.audit_log
                    WHERE invoice_id = \(invoice) AND entity = 'task' AND entity_id = \(task.id)
                    ORDER BY id DESC LIMIT 1
                    """)
                #expect(try channel.first?.decode("channel", as: String.self) == "email_link")

                // The same daemon's /healthz and /metrics: its real listener, its counters, the page requests.
                // Raw requests with `Connection: close`: no keep-alive connection may outlive them, as the daemon
                // is stopped by cancellation below.
                let client = WebTestClient(base: base)
                let health = try client.get("/healthz")
                #expect(health.status == 200, "\(health.body)")
                let metrics = try client.get("/metrics")
                #expect(ObservabilityMetricsTests.strictlyValid(metrics.body) == [])
                let families = try ObservabilityMetricsTests.parse(metrics.body)
                let requests = families["invoiceflow_http_requests"]?.samples ?? []
                #expect(
                    requests.contains {
                        $0.labels == ["route": "/a/{token}", "method": "POST", "status": "200"] && $0.value == 1
                    }, "the browser's POST is counted under the route pattern, not its token: \(requests)")
                #expect(families["invoiceflow_routing_items"] != nil, "the daemon's own counters are exported")
                // The running router and mailer count into them: the submission was routed, the mail relayed.
                let routed = families["invoiceflow_routing_items"]?.samples.first {
                    $0.name.hasSuffix("_total") && $0.labels == ["result": "routed"]
                }
                #expect((routed?.value ?? 0) >= 1, "the router counts what it routed: \(String(describing: routed))")
                let sent = families["invoiceflow_mail_attempts"]?.samples.first {
                    $0.name.hasSuffix("_total") && $0.labels == ["outcome": "sent"]
                }
                #expect(
                    (sent?.value ?? 0) >= 1, "the mailer counts what the relay accepted: \(String(describing: sent))")
                #expect(
                    registry.emitToString().contains("invoiceflow_http_requests_total{route=\"/a/{token}\""),
                    "the site exports through the process-wide registry that `invoiceflow serve` bootstraps")
                group.cancelAll()
            }
            await company.close()
        } catch {
            await company.close()
            throw error
        }
    }

    /// Renders and enqueues the "task assigned" mail of `task`, with its signed action link, as the router
    /// does when it creates a task; the daemon's mailer then delivers it.
    static func mailTask(
        _ task: Int64, of invoice: Int64, to employee: Int64, settings: Configuration, database: PostgresConfiguration
    ) async throws {
        let composer = try MailComposer(
            sender: settings.mail.sender, publicURL: settings.mail.publicURL,
            actionLinks: try settings.http.actionLinks(publicURL: settings.mail.publicURL))
        let connection = try await PostgresConnection.connect(database, logger: TestPostgres.silentLogger)
        do {
            try await connection.transaction { connection in
                let recipient = try #require(try MailOutbox.recipients([employee], on: connection).first)
                let facts = try #require(try MailOutbox.invoiceFacts(invoice, on: connection))
                let notification = MailNotification(
                    kind: .taskAssigned, recipient: recipient, invoice: facts, taskID: task,
                    deduplicationKey: "task-\(task)")
                _ = try MailOutbox.enqueue(
                    try composer.message(for: notification).render(), for: notification, on: connection)
            }
            await connection.close()
        } catch {
            await connection.close()
            throw error
        }
    }

    /// The first action link (`<base>/a/<token>`) in a message delivered to `address`, if one arrived.
    static func actionLink(in relay: SMTPTestServer, to address: String, base: String) throws -> String? {
        for file in try relay.deliveredMessages() {
            let message = try relay.decode(file)
            guard message.envelope.recipients.contains(address) else { continue }
            let pattern = try Regex(#"https?://[^\s"<>]+/a/[A-Za-z0-9_.~-]+"#)
            if let match = message.text.firstMatch(of: pattern) { return String(message.text[match.range]) }
        }
        return nil
    }

    /// Polls `probe` every 200 ms for up to 30 s until it returns a value.
    static func eventually<T>(_ what: String, _ probe: () async throws -> T?) async throws -> T {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let value = try await probe() { return value }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw BrowserTestFailure("waited 30 s for \(what)")
    }

    /// A loopback port nobody listens on right now (bound, read back, released): the links in the mail must
    /// name the server's port before the server starts.
    static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw BrowserTestFailure("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(descriptor, pointer, length) == 0 && getsockname(descriptor, pointer, &length) == 0
            }
        }
        guard bound else { throw BrowserTestFailure("cannot bind a loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

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
                "--remote-allow-origins=*", f"--accept-lang={args.get('language', 'ru-RU,ru')}",
                f"--user-data-dir={profile}", "about:blank"],
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
                        # The whole page, not just the first screen: the card below the buttons is evidence too.
                        size = (await call("Page.getLayoutMetrics"))["cssContentSize"]
                        clip = {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}
                        data = (await call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                           clip=clip))["data"]
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
