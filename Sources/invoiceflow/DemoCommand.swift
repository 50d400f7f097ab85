import ArgumentParser
import Foundation
import InvoiceDaemon
import Logging

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create a demo company, run invoices of all six types through their routes, print their timelines.",
        discussion: """
            Runs on the embedded defaults (a private cluster under INVOICEFLOW_DATA_DIR, mail as .eml files) or, \
            with INVOICEFLOW_DATABASE_URL, on that database, which must be empty or hold the demo company from an \
            earlier run; the URL's login must be a superuser (the demo acts as each employee with SET SESSION \
            AUTHORIZATION and creates their login roles). A second run prints the existing timelines again.
            """)

    @OptionGroup var options: SharedOptions

    @Flag(name: .long, help: "Keep the daemon serving after the demo, until Ctrl-C or SIGTERM.")
    var keepServing = false

    func run() async throws {
        var (settings, logger) = try options.start(label: "invoiceflow.demo")
        // The demo's own output is the story; the services' routine log lines would bury it.
        if settings.logLevel < .notice && !keepServing { logger.logLevel = .notice }
        settings.reportRefreshInterval = nil
        do {
            _ = try await InvoiceDaemon.Demo.run(settings, keepServing: keepServing, logger: logger) { line in
                // Written through, not buffered: piped into a file or a program, the story arrives line by line.
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
        } catch let error as DemoError {
            print("demo failed: \(error)", to: &standardError)
            throw ExitCode.failure
        } catch is CancellationError {
            print("demo interrupted", to: &standardError)
            throw ExitCode(130)
        }
    }
}
