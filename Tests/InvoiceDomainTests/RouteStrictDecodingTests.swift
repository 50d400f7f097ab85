import Foundation
import Testing

@testable import InvoiceDomain

/// Route files are edited by hand: a misspelt key must be refused with its name and where it is, never
/// dropped (a lost `"when"` would silently widen who approves).
@Suite("Route files refuse unknown keys")
struct RouteStrictDecodingTests {
    /// Where a stray key is put, as a path of object keys and array indexes into the default file, and
    /// the coding path the error must name.
    struct Placement: Sendable, CustomTestStringConvertible {
        var path: [PathStep]
        var expectedPath: String
        var testDescription: String { expectedPath.isEmpty ? "top level" : expectedPath }
    }

    enum PathStep: Sendable {
        case key(String)
        case index(Int)
    }

    static let placements: [Placement] = [
        Placement(path: [], expectedPath: ""),
        Placement(path: [.key("routes"), .index(0)], expectedPath: "routes[0]"),
        Placement(path: [.key("routes"), .index(0), .key("steps"), .index(2)], expectedPath: "routes[0].steps[2]"),
        Placement(
            path: [.key("routes"), .index(0), .key("steps"), .index(0), .key("participants"), .index(0)],
            expectedPath: "routes[0].steps[0].participants[0]"),
        Placement(
            path: [.key("routes"), .index(0), .key("steps"), .index(3), .key("payment")],
            expectedPath: "routes[0].steps[3].payment"),
        Placement(
            path: [.key("routes"), .index(0), .key("steps"), .index(4), .key("closingDocuments")],
            expectedPath: "routes[0].steps[4].closingDocuments"),
        Placement(
            path: [.key("routes"), .index(0), .key("steps"), .index(4), .key("closingDocuments"), .key("due")],
            expectedPath: "routes[0].steps[4].closingDocuments.due"),
    ]

    private static func defaultFile() throws -> Any {
        try JSONSerialization.jsonObject(with: try JSONEncoder().encode(RouteFile.defaults))
    }

    /// `node` with `"treshold": 1` added to the object at `path`.
    private static func adding(_ key: String, at path: ArraySlice<PathStep>, in node: Any) -> Any {
        guard let step = path.first else {
            var object = node as! [String: Any]
            object[key] = 1
            return object
        }
        switch step {
        case .key(let name):
            var object = node as! [String: Any]
            object[name] = adding(key, at: path.dropFirst(), in: object[name]!)
            return object
        case .index(let index):
            var array = node as! [Any]
            array[index] = adding(key, at: path.dropFirst(), in: array[index])
            return array
        }
    }

    private static func pathString(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                text += (text.isEmpty ? "" : ".") + key.stringValue
            }
        }
        return text
    }

    @Test("a misspelt key is refused, naming the key and its path", arguments: placements)
    func unknownKeyIsRefused(_ placement: Placement) throws {
        let json = Self.adding("treshold", at: placement.path[...], in: try Self.defaultFile())
        let data = try JSONSerialization.data(withJSONObject: json)
        do {
            _ = try JSONDecoder().decode(RouteFile.self, from: data)
            Issue.record("a file with \"treshold\" at \(placement.testDescription) was accepted")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription.hasPrefix("unknown key \"treshold\""), "\(context.debugDescription)")
            #expect(Self.pathString(context.codingPath) == placement.expectedPath)
        }
    }

    @Test("the message lists the keys allowed where the stray one was found")
    func messageListsAllowedKeys() throws {
        let json = #"{"businessDays": 5, "after": "payment", "afterr": "payment"}"#
        do {
            _ = try JSONDecoder().decode(ClosingDocumentsDue.self, from: Data(json.utf8))
            Issue.record("accepted a stray key")
        } catch DecodingError.dataCorrupted(let context) {
            #expect(context.debugDescription == #"unknown key "afterr" (allowed here: businessDays, after)"#)
        }
    }

    @Test("the default file, with every key known, still decodes")
    func knownKeysDecode() throws {
        let data = try JSONSerialization.data(withJSONObject: try Self.defaultFile())
        #expect(try JSONDecoder().decode(RouteFile.self, from: data) == RouteFile.defaults)
    }
}
