// The bottleneck chart: per stage, the distribution of business time spent in it, as a standalone SVG
// file any browser opens. One horizontal band per stage: a solid bar to the median, a lighter bar from
// the median to the 90th percentile, and a whisker to the longest stay; the figures themselves stand in a
// column of their own on the right, so no label ever collides with a bar however long it is.

extension BottleneckReport {
    /// The chart as an SVG document (UTF-8 text, no external resources).
    public func renderSVG() -> String {
        let layout = ChartLayout(stageCount: stages.count)
        let axis = Self.axis(upTo: stages.map(\.maxBusinessHours).max() ?? 0)
        func x(_ hours: Double) -> Double {
            layout.plotLeft + layout.plotWidth * min(max(hours, 0), axis.maximum) / axis.maximum
        }
        let n = Self.number
        var svg: [String] = []
        svg.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        svg.append(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(n(layout.width))\" height=\"\(n(layout.height))\" "
                + "viewBox=\"0 0 \(n(layout.width)) \(n(layout.height))\" "
                + "font-family=\"DejaVu Sans, Verdana, Arial, sans-serif\" font-size=\"13\">")
        svg.append("<title>Time in each stage, business hours</title>")
        svg.append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        svg.append(
            "<text x=\"24\" y=\"30\" font-size=\"17\" font-weight=\"bold\" fill=\"#222222\">"
                + "Time in each stage, business hours</text>")
        svg.append(
            "<text x=\"24\" y=\"50\" fill=\"#555555\">Finished stays · business hours count 09:00–18:00 Moscow "
                + "on working days</text>")
        svg += legend(at: 24, y: 66)

        // Zebra bands first, so the grid lines stay visible across them.
        for index in stages.indices where index % 2 == 1 {
            svg.append(
                "<rect x=\"12\" y=\"\(n(layout.plotTop + layout.band * Double(index)))\" "
                    + "width=\"\(n(layout.width - 24))\" height=\"\(n(layout.band))\" fill=\"#f4f6f9\"/>")
        }
        // Grid and axis.
        for tick in axis.ticks {
            svg.append(
                "<line x1=\"\(n(x(tick)))\" y1=\"\(n(layout.plotTop - 4))\" x2=\"\(n(x(tick)))\" "
                    + "y2=\"\(n(layout.axisY))\" stroke=\"\(tick == 0 ? "#888888" : "#e3e3e3")\"/>")
            svg.append(
                "<text x=\"\(n(x(tick)))\" y=\"\(n(layout.axisY + 17))\" text-anchor=\"middle\" fill=\"#555555\">"
                    + "\(Self.compact(tick))</text>")
        }
        svg.append(
            "<line x1=\"\(n(layout.plotLeft))\" y1=\"\(n(layout.axisY))\" x2=\"\(n(layout.plotLeft + layout.plotWidth))\" "
                + "y2=\"\(n(layout.axisY))\" stroke=\"#888888\"/>")
        svg.append(
            "<text x=\"\(n(layout.plotLeft + layout.plotWidth / 2))\" y=\"\(n(layout.axisY + 36))\" "
                + "text-anchor=\"middle\" fill=\"#333333\">business hours</text>")
        svg.append(
            "<text x=\"\(n(layout.figuresX))\" y=\"\(n(layout.plotTop - 8))\" text-anchor=\"end\" fill=\"#555555\" "
                + "font-size=\"12\">p50 · p90 · max, h</text>")

        if stages.isEmpty {
            svg.append(
                "<text x=\"\(n(layout.plotLeft + 12))\" y=\"\(n(layout.plotTop + layout.band / 2 + 5))\" "
                    + "fill=\"#555555\">No finished stage stays yet.</text>")
        }
        let worst = bottleneck?.stage
        for (index, row) in stages.enumerated() {
            let isWorst = row.stage == worst
            let colour = isWorst ? "#c0392b" : "#2c6fbb"
            let top = layout.plotTop + layout.band * Double(index)
            let barY = top + 10
            let barHeight = layout.band - 20
            let midY = barY + barHeight / 2
            let stage = Self.escape(row.stage)
            svg.append("<g class=\"stage\" data-stage=\"\(stage)\">")
            svg.append(
                "<text x=\"\(n(layout.plotLeft - 12))\" y=\"\(n(midY - 2))\" text-anchor=\"end\" fill=\"#222222\""
                    + "\(isWorst ? " font-weight=\"bold\"" : "")>\(stage)</text>")
            svg.append(
                "<text x=\"\(n(layout.plotLeft - 12))\" y=\"\(n(midY + 13))\" text-anchor=\"end\" fill=\"#777777\" "
                    + "font-size=\"11\">\(Self.grouped(row.stays)) \(row.stays == 1 ? "stay" : "stays")"
                    + "\(isWorst ? " · bottleneck" : "")</text>")
            svg.append(
                "<rect class=\"p50\" x=\"\(n(layout.plotLeft))\" y=\"\(n(barY))\" "
                    + "width=\"\(n(x(row.p50BusinessHours) - layout.plotLeft))\" height=\"\(n(barHeight))\" "
                    + "fill=\"\(colour)\"><title>\(stage): median \(Self.compact(row.p50BusinessHours)) h</title></rect>"
            )
            svg.append(
                "<rect class=\"p90\" x=\"\(n(x(row.p50BusinessHours)))\" y=\"\(n(barY))\" "
                    + "width=\"\(n(max(x(row.p90BusinessHours) - x(row.p50BusinessHours), 0)))\" "
                    + "height=\"\(n(barHeight))\" fill=\"\(colour)\" fill-opacity=\"0.35\">"
                    + "<title>\(stage): 90th percentile \(Self.compact(row.p90BusinessHours)) h</title></rect>")
            svg.append(
                "<line class=\"max\" x1=\"\(n(x(row.p90BusinessHours)))\" y1=\"\(n(midY))\" "
                    + "x2=\"\(n(x(row.maxBusinessHours)))\" y2=\"\(n(midY))\" stroke=\"\(colour)\" stroke-width=\"1.5\">"
                    + "<title>\(stage): longest \(Self.compact(row.maxBusinessHours)) h</title></line>")
            svg.append(
                "<line x1=\"\(n(x(row.maxBusinessHours)))\" y1=\"\(n(barY + 3))\" x2=\"\(n(x(row.maxBusinessHours)))\" "
                    + "y2=\"\(n(barY + barHeight - 3))\" stroke=\"\(colour)\" stroke-width=\"1.5\"/>")
            svg.append(
                "<text x=\"\(n(layout.figuresX))\" y=\"\(n(midY + 5))\" text-anchor=\"end\" fill=\"#333333\""
                    + "\(isWorst ? " font-weight=\"bold\"" : "")>\(Self.compact(row.p50BusinessHours)) · "
                    + "\(Self.compact(row.p90BusinessHours)) · \(Self.compact(row.maxBusinessHours))</text>")
            svg.append("</g>")
        }
        svg.append("</svg>")
        return svg.joined(separator: "\n") + "\n"
    }

    /// The key to the three marks, drawn as the marks themselves.
    private func legend(at left: Double, y: Double) -> [String] {
        let n = Self.number
        return [
            "<rect x=\"\(n(left))\" y=\"\(n(y))\" width=\"22\" height=\"10\" fill=\"#2c6fbb\"/>",
            "<text x=\"\(n(left + 28))\" y=\"\(n(y + 10))\" fill=\"#555555\" font-size=\"12\">median</text>",
            "<rect x=\"\(n(left + 90))\" y=\"\(n(y))\" width=\"22\" height=\"10\" fill=\"#2c6fbb\" fill-opacity=\"0.35\"/>",
            "<text x=\"\(n(left + 118))\" y=\"\(n(y + 10))\" fill=\"#555555\" font-size=\"12\">to the 90th percentile</text>",
            "<line x1=\"\(n(left + 268))\" y1=\"\(n(y + 5))\" x2=\"\(n(left + 290))\" y2=\"\(n(y + 5))\" stroke=\"#2c6fbb\" "
                + "stroke-width=\"1.5\"/>",
            "<line x1=\"\(n(left + 290))\" y1=\"\(n(y))\" x2=\"\(n(left + 290))\" y2=\"\(n(y + 10))\" stroke=\"#2c6fbb\" "
                + "stroke-width=\"1.5\"/>",
            "<text x=\"\(n(left + 298))\" y=\"\(n(y + 10))\" fill=\"#555555\" font-size=\"12\">to the longest stay</text>",
            "<rect x=\"\(n(left + 440))\" y=\"\(n(y))\" width=\"22\" height=\"10\" fill=\"#c0392b\"/>",
            "<text x=\"\(n(left + 468))\" y=\"\(n(y + 10))\" fill=\"#555555\" font-size=\"12\">"
                + "bottleneck (largest p90)</text>",
        ]
    }

    /// Where things go: a fixed-width plot whose height grows with the number of stages.
    struct ChartLayout {
        let width = 960.0
        let plotLeft = 200.0
        let plotTop = 112.0
        let band = 46.0
        /// The right edge of the figures column.
        let figuresX = 936.0
        let stageCount: Int

        var plotWidth: Double { 540 }
        var axisY: Double { plotTop + band * Double(max(stageCount, 1)) }
        var height: Double { axisY + 56 }
    }

    /// The axis of a chart whose longest bar is `longest` hours: ticks every 1, 2 or 5 × 10ⁿ hours, 3 to 6 of
    /// them past zero, the last at or above `longest`.
    static func axis(upTo longest: Double) -> (maximum: Double, ticks: [Double]) {
        let top = longest > 0 ? longest : 1
        var magnitude = 1.0
        while magnitude * 10 <= top / 5 { magnitude *= 10 }
        while magnitude > top / 5 { magnitude /= 10 }
        let step = [1.0, 2.0, 5.0, 10.0].map { $0 * magnitude }.first { $0 * 5 >= top } ?? 10 * magnitude
        let count = Int((top / step).rounded(.up))
        let ticks = (0...count).map { Double($0) * step }
        return (ticks.last ?? top, ticks)
    }

    /// A number without trailing zeros: 12, 12.5, 0.25 (at most two decimals).
    static func compact(_ value: Double) -> String {
        var text = hours(value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// An integer with thin-space thousands separators, as Russian and SI typography write it: 1 234 567.
    static func grouped(_ value: Int64) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0 && (digits.count - offset) % 3 == 0 { out.append("\u{2009}") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }

    /// A coordinate with at most one decimal, without a trailing ".0".
    static func number(_ value: Double) -> String {
        let tenths = Int64((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = tenths.magnitude
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
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
