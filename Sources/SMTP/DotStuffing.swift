/// The DATA section transformation of RFC 5321 §4.5.2 and §2.3.8: every line end becomes CRLF
/// (a bare CR or LF is never sent), a line starting with "." gets a second ".", the content
/// ends with CRLF, and the terminating ".CRLF" follows.
enum DotStuffing {
    /// Returns the bytes to send after the 354 reply, terminator included.
    static func encode(_ message: [UInt8]) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(message.count + message.count / 64 + 5)
        var atLineStart = true
        var index = 0
        while index < message.count {
            let byte = message[index]
            switch byte {
            case 13, 10:
                output += [13, 10]
                // CRLF is one line end; a lone CR or LF counts as one too.
                if byte == 13 && index + 1 < message.count && message[index + 1] == 10 { index += 1 }
                atLineStart = true
            default:
                if atLineStart && byte == UInt8(ascii: ".") { output.append(UInt8(ascii: ".")) }
                output.append(byte)
                atLineStart = false
            }
            index += 1
        }
        if !atLineStart { output += [13, 10] }
        output += [UInt8(ascii: "."), 13, 10]
        return output
    }
}
