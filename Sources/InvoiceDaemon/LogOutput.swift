import Foundation
import Logging

/// Sets up swift-log for the process: human-readable lines on a terminal, JSON lines otherwise.
public enum LogOutput {
    /// Installs the process-wide log handler factory. Call once, at start-up, before creating loggers.
    public static func bootstrap(format: Configuration.LogFormat, level: Logger.Level) {
        let json: Bool
        switch format {
        case .auto: json = isatty(STDERR_FILENO) == 0
        case .text: json = false
        case .json: json = true
        }
        LoggingSystem.bootstrap { label in
            var handler: any LogHandler =
                json ? JSONLinesLogHandler(label: label) : StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}

/// Writes each log record as one JSON object on standard error: time, level, label, message, metadata.
public struct JSONLinesLogHandler: LogHandler {
    /// The logger's label, written as `logger`.
    public let label: String
    /// Metadata attached to every record of this logger.
    public var metadata: Logger.Metadata = [:]
    /// The lowest level written.
    public var logLevel: Logger.Level = .info

    /// A handler for the logger called `label`.
    public init(label: String) {
        self.label = label
    }

    /// Reads or writes one metadata value of this logger.
    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Writes one record.
    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        var line = "{\"time\":\(Self.quoted(Self.timestamp()))"
        line += ",\"level\":\(Self.quoted(event.level.rawValue))"
        line += ",\"logger\":\(Self.quoted(label))"
        line += ",\"message\":\(Self.quoted(event.message.description))"
        for key in merged.keys.sorted() {
            line += ",\(Self.quoted(key)):\(Self.json(merged[key]!))"
        }
        line += "}\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func json(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let string): return quoted(string)
        case .stringConvertible(let convertible): return quoted(convertible.description)
        case .array(let values): return "[" + values.map(json).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            let fields = dictionary.keys.sorted().map { quoted($0) + ":" + json(dictionary[$0]!) }
            return "{" + fields.joined(separator: ",") + "}"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func quoted(_ text: String) -> String {
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
            parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
            parts.tm_hour, parts.tm_min, parts.tm_sec, Int(now.tv_nsec / 1000)
        )
    }
}
