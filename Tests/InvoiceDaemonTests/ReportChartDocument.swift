import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// What an XML parser finds in a rendered bottleneck chart: proof that the SVG is well-formed, and the
/// counts and extents the tests compare with the report (a real parser, not string matching, so an
/// unescaped `&` or an unclosed element fails).
struct ChartDocument {
    /// The name of the root element.
    var root = ""
    /// Elements by name.
    var elements: [String: Int] = [:]
    /// The `data-stage` names of the `<g class="stage">` groups, in document order.
    var seriesNames: [String] = []
    /// The canvas size declared on the root.
    var width = 0.0
    var height = 0.0
    /// The largest x and y any element reaches (rectangle right edges included).
    var maxX = 0.0
    var maxY = 0.0

    /// How many stage series the chart draws.
    var series: Int { seriesNames.count }

    struct ParseError: Error, CustomStringConvertible {
        var description: String
    }

    /// An empty document, filled in by the parser's delegate.
    private init() {}

    /// Parses `svg`; throws when it is not well-formed XML.
    init(svg: String) throws {
        let collector = Collector()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = collector
        guard parser.parse() else {
            throw ParseError(description: "not well-formed: \(parser.parserError.map(String.init(describing:)) ?? "?")")
        }
        self = collector.document
    }

    /// The parser's delegate; used on the calling thread only, during `parse()`.
    private final class Collector: NSObject, XMLParserDelegate {
        var document = ChartDocument()

        func parser(
            _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if document.root.isEmpty {
                document.root = name
                document.width = Double(attributes["width"] ?? "") ?? 0
                document.height = Double(attributes["height"] ?? "") ?? 0
            }
            document.elements[name, default: 0] += 1
            if name == "g", attributes["class"] == "stage" {
                document.seriesNames.append(attributes["data-stage"] ?? "")
            }
            func value(_ key: String) -> Double? { attributes[key].flatMap(Double.init) }
            for key in ["x", "x1", "x2"] {
                if let x = value(key) { document.maxX = max(document.maxX, x + (key == "x" ? value("width") ?? 0 : 0)) }
            }
            for key in ["y", "y1", "y2"] {
                if let y = value(key) {
                    document.maxY = max(document.maxY, y + (key == "y" ? value("height") ?? 0 : 0))
                }
            }
        }
    }
}
