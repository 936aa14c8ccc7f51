/// The text encodings machine logs come in. Names follow the WHATWG/IANA spelling.
public enum TextEncoding: String, Sendable, Hashable, CaseIterable {
    case utf8 = "utf-8"
    case windows1252 = "windows-1252"
    case iso88591 = "iso-8859-1"
    /// UTF-16 with a byte-order mark deciding the byte order (little-endian without one).
    case utf16 = "utf-16"
    case utf16le = "utf-16le"
    case utf16be = "utf-16be"

    public init?(name: String) {
        switch name.lowercased().replacingOccurrences(of: "_", with: "-") {
        case "utf-8", "utf8": self = .utf8
        case "windows-1252", "cp1252", "win1252", "cp-1252": self = .windows1252
        case "iso-8859-1", "latin1", "latin-1", "iso8859-1": self = .iso88591
        case "utf-16", "utf16": self = .utf16
        case "utf-16le", "utf16le": self = .utf16le
        case "utf-16be", "utf16be": self = .utf16be
        default: return nil
        }
    }

    /// True when ASCII bytes mean ASCII characters, so framing can run on the raw bytes.
    public var isASCIICompatible: Bool {
        switch self {
        case .utf8, .windows1252, .iso88591: true
        case .utf16, .utf16le, .utf16be: false
        }
    }

    /// Windows-1252 bytes 0x80…0x9F as Unicode scalars; 0 marks the five undefined bytes.
    public static let windows1252High: [UInt32] = [
        0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0, 0x017D, 0,
        0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
    ]

    /// Renders bytes of this encoding as text, replacing what is invalid with U+FFFD. For messages
    /// and dead letters, not for the hot path.
    public func decodeLossy(_ bytes: [UInt8]) -> String {
        switch self {
        case .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .iso88591:
            return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
        case .windows1252:
            var s = String.UnicodeScalarView()
            for b in bytes {
                if b >= 0x80 && b <= 0x9F {
                    let v = TextEncoding.windows1252High[Int(b - 0x80)]
                    s.append(Unicode.Scalar(v == 0 ? 0xFFFD : v)!)
                } else {
                    s.append(Unicode.Scalar(b))
                }
            }
            return String(s)
        case .utf16, .utf16le, .utf16be:
            var big = self == .utf16be
            var start = 0
            if bytes.count >= 2 {
                if bytes[0] == 0xFF && bytes[1] == 0xFE { big = false; start = 2 }
                else if bytes[0] == 0xFE && bytes[1] == 0xFF { big = true; start = 2 }
            }
            var units: [UInt16] = []
            var i = start
            while i + 1 < bytes.count {
                units.append(big ? UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]) : UInt16(bytes[i + 1]) << 8 | UInt16(bytes[i]))
                i += 2
            }
            return String(decoding: units, as: UTF16.self)
        }
    }
}
