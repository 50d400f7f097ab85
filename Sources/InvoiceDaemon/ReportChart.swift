// The bottleneck chart: per stage, the distribution of business time spent in it, as a standalone SVG
// file any browser opens. One horizontal band per stage: a solid bar to the median, a lighter bar from
// the median to the 90th percentile, and a whisker to the longest stay.

extension BottleneckReport {
    /// The chart as an SVG document (UTF-8 text, no external resources).
    public func renderSVG() -> String {
        let width = 900.0
        let left = 190.0
        let right = 70.0
        let top = 70.0
        let band = 44.0
        let plotWidth = width - left - right
        let height = top + band * Double(max(stages.count, 1)) + 60
        let scaleMax = Self.niceCeiling(stages.map(\.maxBusinessHours).max() ?? 0)
        func x(_ hours: Double) -> Double { left + plotWidth * max(hours, 0) / scaleMax }

        var svg: [String] = []
        svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        svg.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Self.number(width))\" height=\"\(Self.number(height))\" "
                + "viewBox=\"0 0 \(Self.number(width)) \(Self.number(height))\" font-family=\"sans-serif\" font-size=\"13\">"
        )
        svg.append("<title>Time in each stage (business hours)</title>")
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        svg.append(
            "<text x=\"\(Self.number(left))\" y=\"28\" font-size=\"16\" font-weight=\"bold\">"
                + "Time in each stage, business hours (09:00–18:00 Moscow)</text>")
        svg.append(
            "<text x=\"\(Self.number(left))\" y=\"48\" fill=\"#555555\">bar: median · light bar: 90th percentile · "
                + "whisker: longest stay</text>")
        let axisY = top + band * Double(max(stages.count, 1))
        for step in 0...4 {
            let value = scaleMax * Double(step) / 4
            let tickX = x(value)
            svg.append(
                "<line x1=\"\(Self.number(tickX))\" y1=\"\(Self.number(top - 6))\" x2=\"\(Self.number(tickX))\" "
                    + "y2=\"\(Self.number(axisY))\" stroke=\"#dddddd\"/>")
            svg.append(
                "<text x=\"\(Self.number(tickX))\" y=\"\(Self.number(axisY + 18))\" text-anchor=\"middle\" "
                    + "fill=\"#555555\">\(Self.hours(value)) h</text>")
        }
        if stages.isEmpty {
            svg.append(
                "<text x=\"\(Self.number(left))\" y=\"\(Self.number(top + 26))\">No finished stage stays yet.</text>")
        }
        let worst = bottleneck?.stage
        for (index, row) in stages.enumerated() {
            let y = top + band * Double(index)
            let barY = y + 8
            let barHeight = band - 20
            let colour = row.stage == worst ? "#c0392b" : "#2c6fbb"
            svg.append(
                "<text x=\"\(Self.number(left - 10))\" y=\"\(Self.number(barY + barHeight / 2 + 5))\" text-anchor=\"end\""
                    + "\(row.stage == worst ? " font-weight=\"bold\"" : "")>\(Self.escape(row.stage)) (\(row.stays))</text>"
            )
            svg.append(
                "<rect class=\"p50\" x=\"\(Self.number(left))\" y=\"\(Self.number(barY))\" "
                    + "width=\"\(Self.number(x(row.p50BusinessHours) - left))\" height=\"\(Self.number(barHeight))\" "
                    + "fill=\"\(colour)\"><title>\(Self.escape(row.stage)) median \(Self.hours(row.p50BusinessHours)) h"
                    + "</title></rect>")
            svg.append(
                "<rect class=\"p90\" x=\"\(Self.number(x(row.p50BusinessHours)))\" y=\"\(Self.number(barY))\" "
                    + "width=\"\(Self.number(max(x(row.p90BusinessHours) - x(row.p50BusinessHours), 0)))\" "
                    + "height=\"\(Self.number(barHeight))\" fill=\"\(colour)\" fill-opacity=\"0.35\">"
                    + "<title>\(Self.escape(row.stage)) p90 \(Self.hours(row.p90BusinessHours)) h</title></rect>")
            let midY = barY + barHeight / 2
            svg.append(
                "<line class=\"max\" x1=\"\(Self.number(x(row.p90BusinessHours)))\" y1=\"\(Self.number(midY))\" "
                    + "x2=\"\(Self.number(x(row.maxBusinessHours)))\" y2=\"\(Self.number(midY))\" stroke=\"\(colour)\"/>"
            )
            svg.append(
                "<line x1=\"\(Self.number(x(row.maxBusinessHours)))\" y1=\"\(Self.number(barY + 4))\" "
                    + "x2=\"\(Self.number(x(row.maxBusinessHours)))\" y2=\"\(Self.number(barY + barHeight - 4))\" "
                    + "stroke=\"\(colour)\"/>")
            svg.append(
                "<text x=\"\(Self.number(x(row.maxBusinessHours) + 6))\" y=\"\(Self.number(midY + 5))\" fill=\"#333333\">"
                    + "\(Self.hours(row.p90BusinessHours)) / \(Self.hours(row.maxBusinessHours))</text>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The smallest of 1, 2, 2.5, 5 × 10ⁿ at or above `value` (at least 1 hour), so axis ticks are round.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 1 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 < value { magnitude *= 10 }
        for factor in [1.0, 2.0, 2.5, 5.0, 10.0] where factor * magnitude >= value { return factor * magnitude }
        return 10 * magnitude
    }

    /// A coordinate with at most one decimal, without a trailing ".0".
    static func number(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        return tenths % 10 == 0 ? String(tenths / 10) : "\(tenths / 10).\((tenths % 10).magnitude)"
    }

    /// Escapes text for an XML text node or attribute.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&apos;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
