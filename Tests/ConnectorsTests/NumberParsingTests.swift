@testable import CoreConnectors
import Testing

/// The number parsers' short paths (plain loops without overflow checks or per-digit state)
/// against their general paths and the C library, over generated text: digits of every count
/// around the limits, signs, separators in and out of place, letters and spaces.
struct NumberParsingTests {
    static func samples(seed: UInt64, separator: Character) -> [String] {
        var rng = seed
        func next(_ n: Int) -> Int { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Int(rng >> 33) % n }
        let alphabet: [Character] = Array("0123456789") + Array("0123456789") + ["-", "+", separator, separator, "e", " ", "x", ","]
        var out = ["", "-", "+", String(separator), "0", "-0", "+0", "5" + String(separator), String(separator) + "5",
                   "999999999999999999", "-999999999999999999", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
                   "123456789012345.6", "1234567890123456", "0000000000000000001", "99999999" + String(separator) + "995"]
        for _ in 0..<40_000 {
            let length = next(22)
            if next(2) == 0 {
                // A well-formed number: sign, integer digits, separator, fraction digits.
                let sign = ["", "-", "+"][next(3)]
                let int = String((0..<next(length + 1)).map { _ in Character(String(next(10))) })
                let frac = next(3) == 0 ? "" : String(separator) + String((0..<next(12)).map { _ in Character(String(next(10))) })
                out.append(sign + int + frac)
            } else {
                out.append(String((0..<length).map { _ in alphabet[next(alphabet.count)] }))
            }
        }
        return out
    }

    @Test func shortIntegersReadAsTheCheckedParserAndSwiftRead() {
        let parser = NumberParsing()
        var read = 0
        for text in Self.samples(seed: 1, separator: ".") {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { b in
                let fast = parser.parseInt(b)
                #expect(fast == parser.parseCheckedInt(b), "\(text)")
                #expect(fast == Int64(text), "\(text)")
                if fast != nil { read += 1 }
            }
        }
        #expect(read > 5_000)
    }

    @Test(arguments: [UInt8(ascii: "."), UInt8(ascii: ",")])
    func floatsReadAsStrtodReadsThem(separator: UInt8) {
        var parser = NumberParsing()
        parser.decimalSeparator = separator
        var read = 0
        for text in Self.samples(seed: 2, separator: Character(UnicodeScalar(separator))) {
            let bytes = Array(text.utf8)
            bytes.withUnsafeBufferPointer { b in
                let fast = parser.parseDouble(b)
                let reference = parser.slowDouble(b)
                #expect(fast == reference || fast == nil && reference == nil, "\(text): \(String(describing: fast)) against \(String(describing: reference))")
                if fast != nil { read += 1 }
            }
        }
        #expect(read > 10_000)
    }

    @Test(arguments: [(8, 2), (18, 0), (18, 4), (5, 5), (12, 3), (3, 0)])
    func plainDecimalsReadAsTheGeneralParserReadsThem(precision: Int, scale: Int) {
        var parser = NumberParsing()
        var plain = 0, general = 0
        for separator in [UInt8(ascii: "."), UInt8(ascii: ",")] {
            parser.decimalSeparator = separator
            for text in Self.samples(seed: UInt64(precision * 100 + scale), separator: Character(UnicodeScalar(separator))) {
                let bytes = Array(text.utf8)
                bytes.withUnsafeBufferPointer { b in
                    let reference = parser.parseDecimal(b, precision: precision, scale: scale, as: Int128.self)
                    if let v = parser.parsePlainDecimal(b, precision: precision, scale: scale) {
                        #expect(reference == .success(Int128(v)), "\(text) as decimal(\(precision),\(scale)): \(v) against \(reference)")
                        plain += 1
                    } else {
                        general += 1
                    }
                    #expect(parser.parseDecimal(b, precision: precision, scale: scale) == reference, "\(text)")
                }
            }
        }
        #expect(plain > 1_000 && general > 5_000)
    }
}
