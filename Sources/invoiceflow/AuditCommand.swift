import ArgumentParser
import Foundation
import InvoiceDaemon

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the tamper-evident history.",
        subcommands: [Verify.self, Anchor.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify every link of the audit hash chain; exit 1 and name the first broken row if any.")

        @OptionGroup var options: SharedOptions

        @Option(
            name: .long, help: "An anchor file written by `audit anchor`: also check the chain still passes through it."
        )
        var anchor: String?

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.audit")
            let savedAnchor = try anchor.map { path in
                try JSONDecoder().decode(AuditChain.Anchor.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
            }
            let database = try await DatabaseBootstrap.start(settings, logger: logger)
            let result: AuditChain.Verification
            do {
                result = try await AuditChain.verify(database.configuration, anchor: savedAnchor, logger: logger)
                await database.stop(logger: logger)
            } catch {
                await database.stop(logger: logger)
                throw error
            }
            if result.intact {
                print(
                    "audit chain intact: \(result.checkedRows) rows checked, head \(result.headID.map(String.init) ?? "none")"
                )
            } else {
                print(
                    "audit chain BROKEN at row \(result.firstBrokenID.map(String.init) ?? "?") "
                        + "(\(result.checkedRows) rows checked)")
                throw ExitCode.failure
            }
        }
    }

    struct Anchor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the audit chain's head (row id and hash) to a file for safekeeping.")

        @OptionGroup var options: SharedOptions

        @Argument(help: "Where to write the anchor (JSON).")
        var file: String

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.audit")
            let database = try await DatabaseBootstrap.start(settings, logger: logger)
            let head: AuditChain.Anchor?
            do {
                head = try await AuditChain.anchor(database.configuration, logger: logger)
                await database.stop(logger: logger)
            } catch {
                await database.stop(logger: logger)
                throw error
            }
            guard let head else {
                print("the audit log is empty: nothing to anchor")
                throw ExitCode.failure
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(head).write(to: URL(fileURLWithPath: file), options: .atomic)
            print("anchored row \(head.id) hash \(head.hash) in \(file)")
        }
    }
}

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Inspect the configuration.",
        subcommands: [Check.self, Keys.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration (environment and file) and exit non-zero naming any bad key.")

        @Option(name: .long, help: "A configuration file of INVOICEFLOW_KEY=value lines.")
        var config: String?

        func run() throws {
            do {
                _ = try Configuration.load(file: config)
                print("configuration is valid")
            } catch {
                print(error.description, to: &standardError)
                throw ExitCode.failure
            }
        }
    }

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every configuration key and its meaning.")

        func run() {
            for key in Configuration.keys {
                print("\(key.name)\(key.secret ? " (secret)" : "")\n    \(key.meaning)")
            }
        }
    }
}
