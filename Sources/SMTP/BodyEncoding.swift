import Foundation

/// Content-transfer-encodings for UTF-8 text parts (RFC 2045 §6.7, §6.8). Both keep every line
/// within 76 characters and the whole body 7-bit, so BODY=8BITMIME is never needed.
enum BodyEncoding {
    static let maximumLineLength = 76

    /// A MIME part (headers, blank line, encoded body) for `body`, choosing quoted-printable for
    /// mostly-ASCII text, which stays readable, and base64 where it is shorter, as for Cyrillic.
    static func part(contentType: String, body: String) -> String {
        let bytes = normalisedLineBytes(body)
        let nonASCII = bytes.count(where: { $0 >= 0x80 })
        let quotedPrintableSize = bytes.count + 2 * nonASCII
        let useBase64 = quotedPrintableSize * 3 > bytes.count * 4
        return "Content-Type: \(contentType)\r\n"
            + (useBase64
                ? "Content-Transfer-Encoding: base64\r\n\r\n" + base64(bytes)
                : "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + quotedPrintable(bytes))
    }

    /// Text with every line end (CRLF, bare LF, bare CR) turned into CRLF, ending in CRLF.
    static func normalisedLines(_ text: String) -> String {
        String(decoding: normalisedLineBytes(text), as: UTF8.self)
    }

    /// ``normalisedLines(_:)`` as UTF-8, in one pass over the bytes (Foundation's replacingOccurrences took
    /// most of a routing step's mail rendering; CR and LF never occur inside a multi-byte sequence).
    static func normalisedLineBytes(_ text: String) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count + text.utf8.count / 16 + 2)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            switch byte {
            case 13: output += [13, 10]
            case 10 where previous == 13: break  // the LF of a CRLF, written with its CR
            case 10: output += [13, 10]
            default: output.append(byte)
            }
            previous = byte
        }
        if !output.isEmpty && output.last != 10 { output += [13, 10] }
        return output
    }

    /// Base64 in lines of 76 characters, each ending in CRLF.
    static func base64(_ bytes: [UInt8]) -> String {
        let encoded = Data(bytes).base64EncodedString()
        var result = ""
        var start = encoded.startIndex
        while start < encoded.endIndex {
            let end = encoded.index(start, offsetBy: maximumLineLength, limitedBy: encoded.endIndex) ?? encoded.endIndex
            result += encoded[start..<end] + "\r\n"
            start = end
        }
        return result
    }

    /// Quoted-printable of CRLF-separated lines: soft breaks keep each line within 76 characters,
    /// `=XX` triplets are never split, and whitespace before a line end is encoded.
    static func quotedPrintable(_ bytes: [UInt8]) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + bytes.count / 8)
        var lineLength = 0
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 13 && index + 1 < bytes.count && bytes[index + 1] == 10 {
                output += [13, 10]
                lineLength = 0
                index += 2
                continue
            }
            let atLineEnd = index + 1 == bytes.count || bytes[index + 1] == 13
            let literal =
                (33...126).contains(byte) && byte != UInt8(ascii: "=") || (byte == 32 || byte == 9) && !atLineEnd
            let token: [UInt8] = literal ? [byte] : [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            // Leave room for the "=" of a soft break unless this token ends the line.
            let room = atLineEnd ? maximumLineLength : maximumLineLength - 1
            if lineLength + token.count > room {
                output += [UInt8(ascii: "="), 13, 10]
                lineLength = 0
            }
            output += token
            lineLength += token.count
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}
