import ConnectorKit
import ConnectorKitTesting
@testable import Connectors
@testable import CoreConnectors
import Testing
import TestSupport

@Suite(.blockingWork) struct CSVDecoderTests {
    func csv(_ configure: (inout CSVConfiguration) -> Void = { _ in }) -> CSVDecoder {
        var c = CSVConfiguration()
        configure(&c)
        return CSVDecoder(c)
    }

    @Test func rfc4180QuotingAndLineEnds() throws {
        let text = "a,b,c\r\n1,\"x,y\",\"he said \"\"hi\"\"\"\r\n2,\"multi\r\nline\",z\n3,,\"\"\n"
        let out = try DecoderVerifier.verify(csv(), Array(text.utf8))
        #expect(out.names == ["a", "b", "c"])
        #expect(out.rows == [["1", "x,y", "he said \"hi\""], ["2", "multi\r\nline", "z"], ["3", "", ""]])
        #expect(out.lines == [2, 3, 5])
        #expect(out.deadLetters.isEmpty)
        #expect(out.consumed == text.utf8.count)
    }

    @Test(arguments: [(";", "a;b\n1;2\n"), ("\t", "a\tb\n1\t2\n"), ("|", "a|b\n1|2\n"), (",", "a,b\n1,2\n")])
    func anyOneByteDelimiter(delimiter: String, text: String) throws {
        let out = try DecoderVerifier.verify(csv { $0.delimiter = CSVConfiguration.singleByte(delimiter)! }, Array(text.utf8))
        #expect(out.rows == [["1", "2"]])
    }

    /// Fields of lengths around the scanner's 64-byte windows, quoted or not (holding the
    /// delimiter, doubled quotes, line feeds), quotes inside unquoted fields, LF and CRLF, blank
    /// lines: the records split as a plain RFC 4180 reading of the generated rows says, whole
    /// (where most records take the window path) and in chunks (where they cannot).
    @Test func recordsSplitAsGeneratedWhereverTheWindowsFall() throws {
        var rng: UInt64 = 5
        func next(_ n: Int) -> Int { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return Int(rng >> 33) % n }
        var quoted = 0, plain = 0
        for round in 0..<30 {
            let columns = 1 + next(12)
            var text = (0..<columns).map { "c\($0)" }.joined(separator: ",") + "\n"
            var expected: [[String]] = []
            for _ in 0..<(20 + next(30)) {
                if next(12) == 0 { text += next(2) == 0 ? "\n" : "\r\n" }
                var row: [String] = [], line: [String] = []
                for _ in 0..<columns {
                    let length = [0, 1, 3, 7, 20, 62, 63, 64, 65, 130][next(10)]
                    var value = String((0..<length).map { _ in Character(UnicodeScalar(UInt8(0x61 + next(26)))) })
                    // A lone empty field would make a blank line, which is no record.
                    if next(4) == 0 || columns == 1 && value.isEmpty {
                        if length > 0 && next(2) == 0 { value.insert(",", at: value.index(value.startIndex, offsetBy: next(length))) }
                        if next(3) == 0 { value += "\"" }
                        if next(5) == 0 { value += "\nx" }
                        line.append("\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"")
                        quoted += 1
                    } else {
                        if length > 1 && next(8) == 0 { value.insert("\"", at: value.index(value.startIndex, offsetBy: 1 + next(length - 1))) }
                        line.append(value)
                        plain += 1
                    }
                    row.append(value)
                }
                expected.append(row)
                text += line.joined(separator: ",") + (next(3) == 0 ? "\r\n" : "\n")
            }
            let out = try DecoderVerifier.verify(csv(), Array(text.utf8))
            #expect(out.rows == expected, "round \(round)")
            #expect(out.deadLetters.isEmpty && out.consumed == text.utf8.count, "round \(round)")
        }
        #expect(quoted > 300 && plain > 1000)
    }

    @Test func partialLastRecordWaits() throws {
        let out = try DecoderVerifier.verify(csv(), Array("a,b\n1,2\n3,4".utf8))
        #expect(out.rows == [["1", "2"]])
        #expect(out.consumed == 8)
        let quoted = try DecoderVerifier.verify(csv(), Array("a,b\n1,\"open\nstill".utf8))
        #expect(quoted.rows.isEmpty)
        #expect(quoted.consumed == 4)
    }

    @Test func explicitColumnsWithoutHeader() throws {
        let out = try DecoderVerifier.verify(csv { $0.header = false; $0.columns = ["x", "y"] }, Array("1,2\n3,4\n".utf8))
        #expect(out.names == ["x", "y"])
        #expect(out.rows == [["1", "2"], ["3", "4"]])
    }

    @Test func windows1252AndLatin1() throws {
        // "Pressão;Operador\r\n1,5;José\r\n" in Windows-1252, plus a euro sign (0x80).
        let bytes: [UInt8] = Array("Press".utf8) + [0xE3] + Array("o;Operador\r\n1,5;Jos".utf8) + [0xE9, 0x80] + [0x0D, 0x0A]
        let out = try DecoderVerifier.verify(csv { $0.delimiter = UInt8(ascii: ";"); $0.encoding = .windows1252 }, bytes)
        #expect(out.names == ["Pressão", "Operador"])
        #expect(out.rows == [["1,5", "José€"]])
        let latin = try DecoderVerifier.verify(csv { $0.delimiter = UInt8(ascii: ";"); $0.encoding = .iso88591 }, bytes)
        #expect(latin.rows == [["1,5", "José\u{80}"]])
    }

    @Test func utf8BOMIsSkipped() throws {
        let out = try DecoderVerifier.verify(csv(), [0xEF, 0xBB, 0xBF] + Array("a,b\n1,2\n".utf8))
        #expect(out.names == ["a", "b"])
    }

    @Test(arguments: [true, false])
    func utf16WithBOM(bigEndian: Bool) throws {
        let text = "nome,valor\r\nJoão,1\r\n\"a,b\",2\r\n"
        var bytes: [UInt8] = bigEndian ? [0xFE, 0xFF] : [0xFF, 0xFE]
        for u in text.utf16 { bytes += bigEndian ? [UInt8(u >> 8), UInt8(u & 0xFF)] : [UInt8(u & 0xFF), UInt8(u >> 8)] }
        let out = try DecoderVerifier.verify(csv { $0.encoding = .utf16 }, bytes)
        #expect(out.names == ["nome", "valor"])
        #expect(out.rows == [["João", "1"], ["a,b", "2"]])
        #expect(out.consumed == bytes.count)
        // Byte offsets point into the UTF-16 file: row 2 starts after BOM + 12 + 8 code units.
        #expect(out.offsets == [Int64(26), Int64(42)])
    }

    @Test func badRecordsGoToDeadLetterAndGoodOnesStay() throws {
        let bytes: [UInt8] = Array("a,b\n1,2\n3\n4,5,6\n7,".utf8) + [0x00] + Array("\n8,".utf8) + [0xFF] + Array("x\n9,".utf8) + [0xC3, 0x28] + Array("\n10,11\n".utf8)
        let out = try DecoderVerifier.verify(csv(), bytes)
        #expect(out.rows == [["1", "2"], ["10", "11"]])
        let reasons = out.deadLetters.map(\.reason)
        #expect(reasons.count == 5)
        #expect(reasons[0] == "expected 2 fields, found 1")
        #expect(reasons[1] == "expected 2 fields, found 3")
        #expect(reasons[2].contains("NUL"))
        #expect(reasons[3].contains("invalid UTF-8"))
        #expect(reasons[4].contains("invalid UTF-8"))
        #expect(out.deadLetters.map(\.origin.line) == [3, 4, 5, 6, 7])
    }

    /// Text is validated a block of lines at a time, and record by record only in a block with a
    /// bad byte: over several blocks, each bad record (wherever it falls in its block) is dead
    /// lettered with its line, and every other record, ASCII or not, lands as written.
    @Test func badBytesAcrossValidationBlocksAreFoundRecordByRecord() throws {
        let total = 2_600
        let bad: [Int: [UInt8]] = [10: [0xFF], 1_200: [0xC3, 0x28], 1_201: [0xE2, 0x82], 2_100: [0x00], 2_599: [0xED, 0xA0, 0x80]]
        var bytes = Array("n,word,pad\n".utf8)
        var expected: [[String]] = []
        for i in 0..<total {
            let word = i % 3 == 0 ? "Conceição-\(i)" : "line-\(i)"
            let pad = String(repeating: "x", count: 20 + i % 60)
            if let junk = bad[i] {
                bytes += Array("\(i),".utf8) + junk + Array(",\(pad)\n".utf8)
            } else {
                bytes += Array("\(i),\(word),\(pad)\n".utf8)
                expected.append(["\(i)", word, pad])
            }
        }
        #expect(bytes.count > 2 * CSVScanner.checkBlock)
        let out = try DecoderVerifier.verify(csv(), bytes)
        let same = out.rows == expected
        #expect(same, "\(out.rows.count) rows, \(expected.count) expected")
        #expect(out.deadLetters.map(\.origin.line) == bad.keys.sorted().map { Int64($0 + 2) })
        #expect(out.deadLetters.map(\.reason).filter { $0.contains("NUL") }.count == 1)
        #expect(out.deadLetters.map(\.reason).filter { $0.contains("invalid UTF-8") }.count == 4)
    }

    @Test func undefinedWindows1252ByteIsDeadLettered() throws {
        let out = try DecoderVerifier.verify(csv { $0.encoding = .windows1252 }, Array("a\nok\n".utf8) + [0x81] + [0x0A])
        #expect(out.rows == [["ok"]])
        #expect(out.deadLetters.first?.reason.contains("0x81") == true)
    }

    @Test func unterminatedQuoteAtEndOfFile() throws {
        let out = try DecoderVerifier.verify(csv(), Array("a,b\n1,2\n3,\"never closed\n".utf8), atEnd: true)
        #expect(out.rows == [["1", "2"]])
        #expect(out.deadLetters.map(\.reason) == ["unterminated quoted field at end of file"])
    }

    @Test func oversizedRecordIsSkipped() throws {
        var bytes = Array("a\n".utf8)
        bytes += [UInt8](repeating: UInt8(ascii: "x"), count: 5000) + [0x0A]
        bytes += Array("short\n".utf8)
        let out = try DecoderVerifier.decode(csv { $0.maxRecordBytes = 1024 }, bytes, chunks: [700])
        #expect(out.rows == [["short"]])
        #expect(out.deadLetters.count == 1)
        #expect(out.deadLetters[0].reason.contains("max_record_bytes"))
        #expect(out.consumed == bytes.count)
    }
}

@Suite(.blockingWork) struct LogDecoderTests {
    @Test func regexWithNamedGroups() throws {
        var c = LogConfiguration()
        c.pattern = #"^(?<ts>\S+ \S+) (?<level>[A-Z]+) (?<msg>.*)$"#
        let text = "2025-01-01 10:00:00 INFO started\r\nnot a log line\n2025-01-01 10:00:05 WARN hot: 92°C\n"
        let out = try DecoderVerifier.verify(LogDecoder(c), Array(text.utf8))
        #expect(out.names == ["ts", "level", "msg"])
        #expect(out.rows == [["2025-01-01 10:00:00", "INFO", "started"], ["2025-01-01 10:00:05", "WARN", "hot: 92°C"]])
        #expect(out.deadLetters.map(\.reason) == ["line does not match the pattern"])
        #expect(out.deadLetters.first?.origin.line == 2)
    }

    @Test func keyValueMode() throws {
        var c = LogConfiguration()
        c.mode = .kv
        c.fields = ["machine", "temp", "msg"]
        let text = "machine=p1 temp=20.5 msg=\"door open\"\nmachine=p2 other=x\n"
        let out = try DecoderVerifier.verify(LogDecoder(c), Array(text.utf8))
        #expect(out.rows == [["p1", "20.5", "door open"], ["p2", "", ""]])
    }

    /// A 3,000-byte line with max_record_bytes = 1024 (reproduced out-of-bounds read): the dead
    /// letter holds at most 1024 bytes, all of them from the line itself, wherever the chunk ends.
    @Test func oversizedLineDeadLetterHoldsOnlyTheLineCutToTheLimit() throws {
        var c = LogConfiguration()
        c.pattern = #"^(?<msg>.*)$"#
        c.maxRecordBytes = 1024
        let long = [UInt8](repeating: UInt8(ascii: "L"), count: 3000)
        let bytes = Array("first\n".utf8) + long + [0x0A] + Array("last\n".utf8)
        for chunks in [[bytes.count], [700], [1], [3001]] {
            let out = try DecoderVerifier.decode(LogDecoder(c), bytes, chunks: chunks)
            #expect(out.rows == [["first"], ["last"]], "chunks \(chunks)")
            #expect(out.deadLetters.count == 1, "chunks \(chunks)")
            let raw = out.deadLetters.first?.raw ?? []
            #expect(raw.count <= 1024 && !raw.isEmpty, "chunks \(chunks): raw holds \(raw.count) bytes")
            #expect(raw.allSatisfy { $0 == UInt8(ascii: "L") }, "chunks \(chunks): raw holds bytes from outside the line")
            #expect(out.consumed == bytes.count)
        }
    }
}
