import Foundation
import Testing

@testable import InvoiceDomain

/// routes/defaults.json, located from this file so the test runs from any working directory.
private let defaultsURL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("routes/defaults.json")

@Suite("Route files")
struct RouteFileTests {
    @Test("routes/defaults.json decodes to exactly the built-in default routes")
    func defaultsFileMatchesSwiftValue() throws {
        if ProcessInfo.processInfo.environment["INVOICEFLOW_WRITE_DEFAULT_ROUTES"] == "1" {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try (encoder.encode(RouteFile.defaults) + Data("\n".utf8)).write(to: defaultsURL)
        }
        let decoded = try JSONDecoder().decode(RouteFile.self, from: Data(contentsOf: defaultsURL))
        #expect(decoded == RouteFile.defaults)
        #expect(decoded.routes.map(\.type) == RouteVersion.defaults.map(\.type))
    }

    @Test("every default route is free of problems")
    func defaultsHaveNoProblems() {
        for route in RouteVersion.defaults { #expect(route.problems == [], "\(route.type)") }
        #expect(RouteFile.defaults.problems == [])
    }

    @Test("a file with a duplicate type or an unknown format is refused")
    func fileProblems() {
        var file = RouteFile.defaults
        file.format = 2
        file.routes.append(RouteVersion.payroll)
        file.routes[0].steps[0].participants = []
        #expect(
            file.problems == [
                "unknown format 2; this version reads format 1",
                "supplier_goods: step purchasing: no participants",
                "payroll: more than one route in the file",
            ])
    }

    @Test("a route survives encoding and decoding unchanged", arguments: RouteVersion.defaults)
    func roundTrip(route: RouteVersion) throws {
        let data = try JSONEncoder().encode(route)
        #expect(try JSONDecoder().decode(RouteVersion.self, from: data) == route)
    }

    @Test(
        "readable JSON forms decode to the intended values",
        arguments: [
            (#""always""#, RouteCondition.always),
            (#"{"amountAbove": "300000.00 RUB"}"#, .amountAbove(.rub(300_000))),
            (#"{"amountAtLeast": "0.01 RUB"}"#, .amountAtLeast(.rub(0, kopecks: 1))),
            (#"{"flag": "customs"}"#, .flag(.customs)),
            (#"{"prepaymentAboveBasisPoints": 5000}"#, .prepaymentAbove(basisPoints: 5000)),
            (#"{"not": {"currency": "USD"}}"#, .not(.currency(.usd))),
            (#"{"all": [{"flag": "urgent"}, {"any": []}]}"#, .all([.flag(.urgent), .any([])])),
        ])
    func conditionForms(json: String, expected: RouteCondition) throws {
        #expect(try JSONDecoder().decode(RouteCondition.self, from: Data(json.utf8)) == expected)
    }

    @Test(
        "malformed JSON is refused, not guessed",
        arguments: [
            #"{"amountAbove": "300000 RUB"}"#,
            #"{"amountAbove": "300000.00 rub"}"#,
            #"{"flag": "cheap"}"#,
            #"{"flag": "urgent", "not": "always"}"#,
            #""sometimes""#,
        ])
    func malformedConditions(json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(RouteCondition.self, from: Data(json.utf8)) }
    }

    @Test(
        "selectors and modes decode from their documented forms",
        arguments: [
            (#""headOfInitiatorDepartment""#, ParticipantSelector.headOfInitiatorDepartment),
            (#"{"positionInPayingSubdivision": "treasurer"}"#, .positionInPayingSubdivision(.treasurer)),
            (#"{"headOfDepartment": "payee"}"#, .headOfDepartment(.payee)),
            (
                #"{"departmentPosition": {"department": "finance", "position": "cfo"}}"#,
                .departmentPosition(department: "finance", position: .cfo)
            ),
        ])
    func selectorForms(json: String, expected: ParticipantSelector) throws {
        #expect(try JSONDecoder().decode(ParticipantSelector.self, from: Data(json.utf8)) == expected)
        let again = try JSONEncoder().encode(expected)
        #expect(try JSONDecoder().decode(ParticipantSelector.self, from: again) == expected)
    }

    @Test(
        "modes decode from their documented forms",
        arguments: [
            (#""sequential""#, ApprovalMode.sequential), (#""allInParallel""#, .allInParallel),
            (#""anyOne""#, .anyOne), (#"{"quorum": 2}"#, .quorum(2)),
        ])
    func modeForms(json: String, expected: ApprovalMode) throws {
        #expect(try JSONDecoder().decode(ApprovalMode.self, from: Data(json.utf8)) == expected)
    }

    @Test("route problems are reported for broken data")
    func problems() {
        var route = RouteVersion.supplierGoods
        route.version = 0
        route.steps[1].id = route.steps[0].id
        route.steps[0].mode = .quorum(4)
        route.steps[0].participants.append(.init(.initiator))
        route.steps[3].payment = nil
        route.steps[4].reminderAtPercent = 100
        let found = route.problems
        #expect(found.count == 6, "\(found)")
        #expect(found.contains("step purchasing: duplicate id"))
        #expect(found.contains("step purchasing: the initiator cannot approve their own invoice"))
    }
}

@Suite("Route changes")
struct RouteChangeTests {
    @Test("a new version reports exactly what changed")
    func changes() {
        let old = RouteVersion.operatingExpenses
        var new = old
        new.version = 2
        #expect(new.changes(from: old) == [])
        new.steps[2].condition = .amountAbove(.rub(500_000))
        new.steps[2].deadline = .businessHours(27)
        new.steps.remove(at: 1)
        new.steps.swapAt(0, 1)
        new.steps.append(
            RouteStep(id: "audit", kind: .approve, title: "Аудит", participants: [.init(.groupPosition("auditor"))]))
        new.visibleOnlyTo = [.ceo]
        #expect(
            new.changes(from: old).map(\.description) == [
                "route visibleOnlyTo changed",
                "step cfo removed",
                "step ceo changed: condition, deadline",
                "step audit added",
                "steps reordered: department_head → ceo → payment → closing_documents became ceo → department_head → payment → closing_documents",
            ])
    }
}
