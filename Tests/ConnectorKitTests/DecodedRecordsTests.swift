import ConnectorKit
import Testing
import TestSupport

/// `DecodedRecords` keeps its positions in a store of its own (not arrays): these tests hold it
/// to an array's value semantics and to the same batch whichever append path built it.
@Suite(.blockingWork) struct DecodedRecordsTests {
    /// `rows` records of `columns` fields: "r<row>c<column>" separated by ';', one per line.
    static func text(rows: Int, columns: Int) -> [UInt8] {
        Array((0..<rows).map { r in (0..<columns).map { "r\(r)c\($0)" }.joined(separator: ";") + "\n" }.joined().utf8)
    }

    /// Appends the records of `input` (as made by `text`) from `input[from...]`, whole records
    /// at once or field by field, pointing into the input or copying (`index` nil).
    static func append(_ input: [UInt8], columns: Int, index: Int?, wholeRecords: Bool, to out: inout DecodedRecords) {
        input.withUnsafeBufferPointer { buf in
            out.beginInput(index: index, count: buf.count)
            var start = 0
            var line: Int64 = 1
            while start < buf.count {
                var bounds: [Int32] = []
                var s = start
                var i = start
                while buf[i] != 0x0A {
                    if buf[i] == UInt8(ascii: ";") { bounds += [Int32(s), Int32(i)]; s = i + 1 }
                    i += 1
                }
                bounds += [Int32(s), Int32(i)]
                #expect(bounds.count == 2 * columns)
                if wholeRecords {
                    bounds.withUnsafeBufferPointer {
                        out.appendRecord(fields: $0, line: line, byteOffset: Int64(start), raw: buf, from: start, to: i)
                    }
                } else {
                    for k in stride(from: 0, to: bounds.count, by: 2) { out.appendField(buf, from: Int(bounds[k]), to: Int(bounds[k + 1])) }
                    out.endRecord(line: line, byteOffset: Int64(start), raw: buf, from: start, to: i)
                }
                start = i + 1
                line += 1
            }
        }
    }

    static func expectRecords(_ batch: RecordBatch, rows: Int, columns: Int) {
        #expect(batch.count == rows)
        for r in 0..<rows {
            for c in 0..<columns { #expect(batch.value(row: r, column: c).description == "r\(r)c\(c)") }
            #expect(batch.origins.lines[r] == Int64(r + 1))
            #expect(String(decoding: batch.origins.rawBytes(r), as: UTF8.self) == (0..<columns).map { "r\(r)c\($0)" }.joined(separator: ";"))
        }
        #expect(batch.origins.byteOffsets == batch.origins.byteOffsets.sorted())
    }

    /// Many more records and fields than the store starts with, by every append path.
    @Test(arguments: [(true, 0), (true, nil), (false, 0), (false, nil)] as [(Bool, Int?)])
    func everyRecordSurvivesTheStoreGrowing(wholeRecords: Bool, index: Int?) {
        let rows = 3000, columns = 7
        let input = Self.text(rows: rows, columns: columns)
        var out = DecodedRecords(names: (0..<columns).map { "c\($0)" })
        Self.append(input, columns: columns, index: index, wholeRecords: wholeRecords, to: &out)
        #expect(out.count == rows)
        let first = out.takeTextBatch(file: "f", input: input)
        #expect(out.count == 0)
        // The emptied value takes a second batch from scratch; the first keeps its positions.
        Self.append(input, columns: columns, index: index, wholeRecords: wholeRecords, to: &out)
        let second = out.takeTextBatch(file: "f", input: input)
        for text in [first, second] {
            let batch = text.recordBatch()
            Self.expectRecords(batch, rows: rows, columns: columns)
            for c in 0..<columns {
                guard case let .string(s) = batch.columns[c].values else { Issue.record("column \(c) is not text"); continue }
                #expect(text.withFields { $0.totalLength(c) } == s.bytes.count)
            }
        }
    }

    /// The fast path's writer, in runs of many records between records appended the other way,
    /// through many growths of the store: the same batch, and a copy taken in between keeps
    /// what it had.
    @Test func recordsWrittenByTheFastPathJoinTheOthers() {
        let rows = 3000, columns = 7
        let input = Self.text(rows: rows, columns: columns)
        var out = DecodedRecords(names: (0..<columns).map { "c\($0)" })
        var kept: DecodedRecords?
        input.withUnsafeBufferPointer { buf in
            out.beginInput(index: 0, count: buf.count)
            var records: [(bounds: [Int32], start: Int, end: Int)] = []
            var start = 0
            while start < buf.count {
                var bounds: [Int32] = []
                var s = start, i = start
                while buf[i] != 0x0A {
                    if buf[i] == UInt8(ascii: ";") { bounds += [Int32(s), Int32(i)]; s = i + 1 }
                    i += 1
                }
                bounds += [Int32(s), Int32(i)]
                records.append((bounds, start, i))
                start = i + 1
            }
            // Runs of 300 records by the writer (the store grows inside them), 7 the other way.
            var r = 0, fast = true
            while r < records.count {
                let end = min(records.count, r + (fast ? 300 : 7))
                if fast {
                    let done = out.withInputRecordWriter { writer -> Bool in
                        for k in r..<end {
                            let slots = writer.slots()
                            for (f, b) in records[k].bounds.enumerated() { slots[f] = b &+ writer.shift }
                            writer.commit(line: Int64(k + 1), byteOffset: Int64(records[k].start), from: records[k].start, to: records[k].end)
                        }
                        return true
                    }
                    #expect(done == true)
                } else {
                    for k in r..<end {
                        records[k].bounds.withUnsafeBufferPointer {
                            out.appendRecord(fields: $0, line: Int64(k + 1), byteOffset: Int64(records[k].start), raw: buf, from: records[k].start, to: records[k].end)
                        }
                    }
                }
                if kept == nil && end >= 1500 { kept = out }
                r = end
                fast.toggle()
            }
        }
        #expect(out.count == rows)
        Self.expectRecords(out.takeTextBatch(file: "f", input: input).recordBatch(), rows: rows, columns: columns)
        if var kept {
            let n = kept.count
            #expect(n >= 1500)
            Self.expectRecords(kept.takeTextBatch(file: "f", input: input).recordBatch(), rows: n, columns: columns)
        } else {
            Issue.record("no copy was taken")
        }
        // Without a kept input there is no fast path.
        var copying = DecodedRecords(names: ["a"])
        copying.beginInput(index: nil, count: 10)
        #expect(copying.withInputRecordWriter { _ in true } == nil)
    }

    /// A copy is a value: appending to one leaves the other as it was.
    @Test func aCopyIsIndependentOfTheOriginal() {
        let columns = 3
        let input = Self.text(rows: 400, columns: columns)
        var original = DecodedRecords(names: (0..<columns).map { "c\($0)" })
        let firstHalf = Array(input[..<input.firstIndex(of: 0x0A)!]) + [0x0A]
        Self.append(firstHalf, columns: columns, index: 0, wholeRecords: true, to: &original)
        var copy = original
        Self.append(input, columns: columns, index: 0, wholeRecords: true, to: &copy)
        #expect(original.count == 1)
        #expect(copy.count == 401)
        let kept = original.takeTextBatch(file: "f", input: input).recordBatch()
        Self.expectRecords(kept, rows: 1, columns: columns)
        let grown = copy.takeTextBatch(file: "f", input: input).recordBatch()
        #expect(grown.value(row: 0, column: 2).description == "r0c2")
        #expect(grown.value(row: 1, column: 0).description == "r0c0")
        #expect(grown.value(row: 400, column: 1).description == "r399c1")
        // The copied part of the copy: its first record's raw bytes, line and offset.
        #expect(String(decoding: grown.origins.rawBytes(0), as: UTF8.self) == "r0c0;r0c1;r0c2")
        #expect(grown.origins.lines[0] == 1 && grown.origins.byteOffsets[0] == 0)
    }

    /// Byte offsets mapped after decoding (a transcoding decoder) change the records asked for only.
    @Test func mappedByteOffsetsChangeOnlyTheLaterRecords() {
        let input = Self.text(rows: 5, columns: 2)
        var out = DecodedRecords(names: ["a", "b"])
        Self.append(input, columns: 2, index: 0, wholeRecords: true, to: &out)
        let shared = out
        out.mapByteOffsets(fromRecord: 3) { $0 + 1000 }
        let before = shared.byteOffsetsForTest, after = out.byteOffsetsForTest
        #expect(Array(after[..<3]) == Array(before[..<3]))
        #expect(Array(after[3...]) == before[3...].map { $0 + 1000 })
    }
}

extension DecodedRecords {
    var byteOffsetsForTest: [Int64] {
        var c = self
        return c.takeTextBatch(file: "f", input: []).origins.byteOffsets
    }
}
