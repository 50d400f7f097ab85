import ArgumentParser
import Foundation
import InvoiceDaemon

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the bottleneck report (time per stage, slowest steps, overdue) from the reporting views.",
        discussion: """
            Connects with INVOICEFLOW_DATABASE_URL (use a login in invoiceflow_reporting or invoiceflow_auditor to \
            see everything; any other login sees only what it may see). --svg also writes the per-stage duration \
            chart as an SVG file.
            """)

    @OptionGroup var options: SharedOptions

    @Flag(name: .long, help: "Print CSV instead of the aligned table.")
    var csv = false

    @Option(name: .long, help: "Also write the per-stage duration chart to this SVG file.")
    var svg: String?

    @Option(name: .long, help: "How many of the slowest steps to list.")
    var steps = 10

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive") }
    }

    func run() async throws {
        let (settings, logger) = try options.start(label: "invoiceflow.report")
        let database = try await DatabaseBootstrap.start(settings, logger: logger)
        let report: BottleneckReport
        do {
            report = try await BottleneckReport.load(database.configuration, stepLimit: steps, logger: logger)
            await database.stop(logger: logger)
        } catch {
            await database.stop(logger: logger)
            print("report failed: \(error)", to: &standardError)
            throw ExitCode.failure
        }
        print(csv ? report.renderCSV() : report.renderTable(), terminator: "")
        if let svg {
            try Data(report.renderSVG().utf8).write(to: URL(fileURLWithPath: svg), options: .atomic)
            if !csv { print("chart written to \(svg)") }
        }
    }
}
