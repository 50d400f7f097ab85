import ArgumentParser
import Foundation
import InvoiceDaemon
import InvoiceDomain
import Logging
import PostgresClient

struct Routes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export, import and simulate the approval routes (docs/routes.md).",
        subcommands: [Export.self, Import.self, Simulate.self])

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the current route of every invoice type (or of one) as a route file.")

        @OptionGroup var options: SharedOptions

        @Option(name: .long, help: "Only this invoice type (e.g. supplier_goods).")
        var type: String?

        @Argument(help: "Where to write the file; - or nothing for standard output.")
        var file: String = "-"

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.routes")
            let text = try await withDatabase(settings, logger: logger) { configuration in
                try await RouteAdministration.export(
                    type: type.map { InvoiceTypeCode($0) }, configuration: configuration, logger: logger)
            }
            if file == "-" {
                print(text, terminator: "")
            } else {
                try Data(text.utf8).write(to: URL(fileURLWithPath: file), options: .atomic)
                print("routes written to \(file)", to: &standardError)
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate a route file and store a new version of each route that changed.",
            discussion: """
                Unchanged routes are left alone; invoices keep the version they were submitted with. A file
                with any problem is refused as a whole and nothing is stored.
                """)

        @OptionGroup var options: SharedOptions

        @Argument(help: "The route file (JSON, docs/routes.md); - for standard input.")
        var file: String

        @Flag(name: .long, help: "Validate and report what would change, store nothing.")
        var dryRun = false

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.routes")
            let data =
                file == "-"
                ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            let routeFile: RouteFile
            do {
                routeFile = try RouteAdministration.parse(data)
            } catch {
                print(error.description, to: &standardError)
                throw ExitCode.failure
            }
            let outcomes: [RouteAdministration.TypeOutcome]
            do {
                outcomes = try await withDatabase(settings, logger: logger) { configuration in
                    try await RouteAdministration.importFile(
                        routeFile, dryRun: dryRun, configuration: configuration, logger: logger)
                }
            } catch let rejection as RouteFileRejection {
                print(rejection.description, to: &standardError)
                throw ExitCode.failure
            }
            for outcome in outcomes { print(outcome.description) }
            let stored = outcomes.filter { $0.storedVersion != nil }.count
            let changed = outcomes.filter { !$0.isUnchanged }.count
            print(
                dryRun
                    ? "dry run: \(changed) of \(outcomes.count) routes would get a new version; nothing stored"
                    : "\(stored) of \(outcomes.count) routes got a new version")
        }
    }

    struct Simulate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the full plan of an invoice: each step, who would act, and why.",
            discussion: """
                Either --invoice ID (a registered invoice, on its pinned route) or a hypothetical invoice:
                --type, --amount and --initiator are then required. Uses the company structure as of now.
                """)

        @OptionGroup var options: SharedOptions

        @Option(name: .long, help: "A registered invoice's id.")
        var invoice: Int64?

        @Option(name: .long, help: "Invoice type code, e.g. supplier_goods.")
        var type: String?

        @Option(name: .long, help: "Amount with the currency's minor digits, e.g. 1500000.00.")
        var amount: String?

        @Option(name: .long, help: "ISO 4217 currency code.")
        var currency: String = "RUB"

        @Option(name: .long, help: "The initiator's login role.")
        var initiator: String?

        @Option(name: .long, help: "The paying subdivision's code (default: the initiator's).")
        var paying: String?

        @Option(name: .long, help: "The receiving subdivision's code, for an intercompany invoice.")
        var receiving: String?

        @Option(
            name: .long,
            help: """
                Comma-separated: urgent, outsideBudget, intercompany, customs, goodsReceived, newCounterparty, \
                prepayment (100 % prepaid unless --prepayment-percent).
                """)
        var flags: String = ""

        @Option(name: .long, help: "The prepaid share in percent (0-100).")
        var prepaymentPercent: Int?

        func validate() throws {
            if invoice == nil && (type == nil || amount == nil || initiator == nil) {
                throw ValidationError(
                    "give --invoice ID, or --type, --amount and --initiator for a hypothetical invoice")
            }
            if let prepaymentPercent, !(0...100).contains(prepaymentPercent) {
                throw ValidationError("--prepayment-percent must be 0-100")
            }
        }

        func run() async throws {
            let (settings, logger) = try options.start(label: "invoiceflow.routes")
            let request: RouteAdministration.SimulatedInvoice
            if let invoice {
                request = .stored(id: invoice)
            } else {
                request = .hypothetical(try hypothetical())
            }
            let simulation = try await withDatabase(settings, logger: logger) { configuration in
                try await RouteAdministration.simulate(request, configuration: configuration, logger: logger)
            }
            print(simulation.explanation)
        }

        private func hypothetical() throws -> RouteAdministration.HypotheticalInvoice {
            let money: Money
            do {
                money = try Money(plainText: "\(amount!) \(currency)")
            } catch {
                throw ValidationError("--amount \(amount!) \(currency): \(error)")
            }
            var set: Set<InvoiceFlag> = []
            var prepaid = false
            for name in flags.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let key = name.lowercased().replacingOccurrences(of: "_", with: "").replacingOccurrences(
                    of: "-", with: "")
                if key == "prepayment" {
                    prepaid = true
                } else if let flag = InvoiceFlag.allCases.first(where: { $0.rawValue.lowercased() == key }) {
                    set.insert(flag)
                } else {
                    throw ValidationError("--flags: unknown flag \(name)")
                }
            }
            let percent = prepaymentPercent ?? (prepaid ? 100 : 0)
            return RouteAdministration.HypotheticalInvoice(
                type: InvoiceTypeCode(type!), amount: money, initiatorLogin: initiator!, payingSubdivision: paying,
                receivingSubdivision: receiving, flags: set, prepaymentBasisPoints: percent * 100)
        }
    }
}

/// Starts the database (the private cluster when none is configured), migrates it, runs `body` and stops
/// the cluster again; a failure is printed as one line and exits non-zero.
private func withDatabase<T: Sendable>(
    _ settings: Configuration, logger: Logger,
    _ body: @Sendable (PostgresConfiguration) async throws -> T
) async throws -> T {
    let database = try await DatabaseBootstrap.start(settings, logger: logger)
    do {
        _ = try await database.migrate(logger: logger)
        let result = try await body(database.configuration)
        await database.stop(logger: logger)
        return result
    } catch let error as RouteFileRejection {
        await database.stop(logger: logger)
        throw error
    } catch let error as RouteAdministrationError {
        await database.stop(logger: logger)
        print(error.description, to: &standardError)
        throw ExitCode.failure
    } catch {
        await database.stop(logger: logger)
        throw error
    }
}
