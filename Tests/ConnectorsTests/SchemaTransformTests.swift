import ConnectorKit
@testable import Connectors
@testable import CoreConnectors
import Testing
import TestSupport

@Suite(.blockingWork) struct SchemaTransformTests {
    func strings(_ names: [String], _ rows: [[String]]) -> RecordBatch {
        RecordBatch(schema: .strings(names),
                    columns: names.indices.map { c in Column(.string(StringColumn(rows.map { $0[c] }))) },
                    origins: RecordOrigins(file: "plant/press-07/log.txt", lines: rows.indices.map { Int64($0 + 2) },
                                           byteOffsets: rows.indices.map { Int64($0 * 10) }, raw: RawRecords(StringColumn(rows.map { $0.joined(separator: ";") }))))
    }

    /// The same rows as a decoder hands them to the engine (fields in place, not string columns).
    func textBatch(_ batch: RecordBatch) -> TextBatch {
        var d = DecodedRecords()
        d.setNames(batch.schema.names)
        for r in 0..<batch.count {
            for c in 0..<batch.schema.count {
                guard case let .string(s) = batch.columns[c].values else { preconditionFailure("string columns only") }
                s.withBytes(r) { d.appendCopiedField($0) }
            }
            let raw = batch.origins.rawBytes(r)
            raw.withUnsafeBufferPointer { d.endRecord(line: batch.origins.lines[r], byteOffset: batch.origins.byteOffsets[r], raw: $0, from: 0, to: raw.count) }
        }
        return d.takeTextBatch(file: batch.origins.file, input: [])
    }

    /// Runs both ways in (string columns, and decoder text) and requires the same result.
    func apply(_ c: SchemaConfiguration, _ batch: RecordBatch) throws -> (RecordBatch, [DeadLetter]) {
        try c.validate()
        let transform = try SchemaTransform(c)
        let context = TransformContext(pipeline: "t", runStarted: 1_700_000_000)
        var dl = DeadLetterCollector(stage: "schema")
        let out = try transform.process(batch, context: context, deadLetters: &dl)
        var textLetters = DeadLetterCollector(stage: "schema")
        let fromText = try transform.process(text: textBatch(batch), context: context, deadLetters: &textLetters)
        #expect(fromText == out, "the text path gives another batch")
        #expect(textLetters.letters == dl.letters, "the text path gives other dead letters")
        return (out, dl.letters)
    }

    @Test func castsEveryTypeWithDecimalCommaAndTimeZone() throws {
        var c = SchemaConfiguration()
        c.timezone = "America/Sao_Paulo"
        c.decimalSeparator = ","
        c.thousandsSeparator = "."
        c.columns = [
            ("ts", { var s = SchemaConfiguration.ColumnSpec(type: .timestamp); s.format = "dd/MM/yyyy HH:mm:ss[.SSS]"; s.from = ["Data Hora"]; return s }()),
            ("day", { var s = SchemaConfiguration.ColumnSpec(type: .date); s.format = "dd/MM/yyyy"; return s }()),
            ("ok", .init(type: .bool)), ("n32", .init(type: .int32)), ("n64", .init(type: .int64)),
            ("temp", .init(type: .float64)), ("price", .init(type: .decimal(precision: 10, scale: 2))), ("name", .init(type: .string)),
        ]
        let batch = strings(["Data Hora", "day", "ok", "n32", "n64", "temp", "price", "name"], [
            ["31/01/2025 21:30:00", "31/01/2025", "true", "-12", "9.000.000.000", "21,5", "1.234,565", "José"],
            ["01/02/2025 00:00:00.250", "01/02/2025", "0", "7", "0", " 3,25 ", "-0,5", ""],
        ])
        let (out, dl) = try apply(c, batch)
        #expect(dl.isEmpty)
        #expect(out.count == 2)
        let r = out.rows()
        // São Paulo is UTC−3 (no DST since 2019).
        #expect(r[0]["ts"]?.description == "2025-02-01T00:30:00.000000Z")
        #expect(r[1]["ts"]?.description == "2025-02-01T03:00:00.250000Z")
        #expect(r[0]["day"]?.description == "2025-01-31")
        #expect(r[0]["ok"] == .bool(true) && r[1]["ok"] == .bool(false))
        #expect(r[0]["n32"] == .int(-12))
        #expect(r[0]["n64"] == .int(9_000_000_000))
        #expect(r[0]["temp"] == .double(21.5) && r[1]["temp"] == .double(3.25))
        #expect(r[0]["price"]?.description == "1234.57") // rounded half away from zero
        #expect(r[1]["price"]?.description == "-0.50")
        #expect(r[0]["name"] == .string("José"))
        #expect(r[1]["name"] == .null) // "" is a null token by default
    }

    @Test func badValuesAreDeadLetteredWithColumnAndRaw() throws {
        var c = SchemaConfiguration()
        c.columns = [("n", .init(type: .int32)), ("t", { var s = SchemaConfiguration.ColumnSpec(type: .float64); s.nullable = false; return s }())]
        let (out, dl) = try apply(c, strings(["n", "t"], [["1", "2.5"], ["99999999999", "1"], ["3", ""], ["x", "1"]]))
        #expect(out.count == 1)
        #expect(dl.map(\.reason) == ["column 'n': cannot read '99999999999' as int32", "column 't' is required but empty", "column 'n': cannot read 'x' as int32"])
        #expect(dl.map(\.origin.line) == [3, 4, 5])
        #expect(String(decoding: dl[0].raw, as: UTF8.self) == "99999999999;1")
    }

    @Test func epochAndISOFormatsAndOffsets() throws {
        var c = SchemaConfiguration()
        c.columns = [
            ("a", { var s = SchemaConfiguration.ColumnSpec(type: .timestamp); s.format = "epoch_s"; return s }()),
            ("b", { var s = SchemaConfiguration.ColumnSpec(type: .timestamp); s.format = "epoch_ms"; return s }()),
            ("c", .init(type: .timestamp)),
        ]
        let (out, dl) = try apply(c, strings(["a", "b", "c"], [["1700000000", "1700000000123", "2023-11-14T22:13:20.5+02:00"]]))
        #expect(dl.isEmpty)
        let r = out.rows()[0]
        #expect(r["a"]?.description == "2023-11-14T22:13:20.000000Z")
        #expect(r["b"]?.description == "2023-11-14T22:13:20.123000Z")
        #expect(r["c"]?.description == "2023-11-14T20:13:20.500000Z")
    }

    /// XP logs put the date and the time in two columns: one timestamp built from both.
    @Test func aColumnFromSeveralInputColumns() throws {
        var c = SchemaConfiguration()
        c.timezone = "America/Sao_Paulo"
        c.columns = [("ts", { var s = SchemaConfiguration.ColumnSpec(type: .timestamp); s.format = "dd/MM/yyyy HH:mm:ss"; s.from = ["Data", "Hora"]; s.nullable = false; return s }()),
                     ("v", .init(type: .int64))]
        c.keepOtherColumns = true
        let (out, dl) = try apply(c, strings(["Data", "Hora", "v", "note"], [["23/11/2026", "08:15:00", "1", "a"], ["24/11/2026", "", "2", "b"], ["", "", "3", "c"]]))
        #expect(out.schema.names == ["ts", "v", "note"], "the joined columns are used, not kept again")
        #expect(out.rows().map { $0["ts"]! } == [.timestamp(1_795_432_500_000_000)]) // 2026-11-23 08:15 at UTC−3
        #expect(dl.count == 2)
        #expect(dl[0].reason.contains("cannot read '24/11/2026' as timestamp"), "\(dl[0].reason)")
        #expect(dl[1].reason.contains("required but empty"), "\(dl[1].reason)")
        var missing = c
        missing.columns[0].spec.from = ["Data", "Horario"]
        let (_, letters) = try apply(missing, strings(["Data", "Hora", "v", "note"], [["23/11/2026", "08:15:00", "1", "a"]]))
        #expect(letters.first?.reason.contains("column 'Horario' declared in the schema is not in the input") == true)
    }

    @Test func nullTokensRenameDeriveAndFilter() throws {
        var c = SchemaConfiguration()
        c.nullValues = ["", "NULL", "---"]
        c.columns = [("temperature", { var s = SchemaConfiguration.ColumnSpec(type: .float64); s.from = ["Temp"]; return s }()), ("status", .init(type: .string))]
        c.derive = [("machine", SchemaConfiguration.parseDerive("path:{machine}/log.txt", name: "machine")!),
                    ("file", .file), ("line", .line), ("loaded_at", .ingestTime)]
        c.filter = ["status != 'OFF'", "temperature is not null"]
        let (out, dl) = try apply(c, strings(["Temp", "status", "extra"], [["20", "OK", "x"], ["---", "OK", "y"], ["30", "OFF", "z"], ["40", "ALARM", "w"]]))
        #expect(dl.isEmpty)
        #expect(out.schema.names == ["temperature", "status", "machine", "file", "line", "loaded_at"])
        let r = out.rows()
        #expect(r.count == 2)
        #expect(r.map { $0["temperature"]! } == [.double(20), .double(40)])
        #expect(r[0]["machine"] == .string("press-07"))
        #expect(r[0]["file"] == .string("plant/press-07/log.txt"))
        #expect(r[1]["line"] == .int(5))
        #expect(r[0]["loaded_at"]?.description == "2023-11-14T22:13:20.000000Z")
    }

    @Test func missingDeclaredColumnRejectsTheBatchWithAClearReason() throws {
        var c = SchemaConfiguration()
        c.columns = [("temp", .init(type: .float64))]
        let (out, dl) = try apply(c, strings(["a", "b"], [["1", "2"], ["3", "4"]]))
        #expect(out.count == 0)
        #expect(dl.count == 2)
        #expect(dl[0].reason == "column 'temp' declared in the schema is not in the input (input columns: a, b)")
    }

    @Test func keepOtherColumnsAndDrop() throws {
        var c = SchemaConfiguration()
        c.columns = [("n", .init(type: .int64))]
        c.keepOtherColumns = true
        c.drop = ["secret"]
        let (out, dl) = try apply(c, strings(["n", "note", "secret"], [["1", "x", "pw"]]))
        #expect(dl.isEmpty)
        #expect(out.schema.names == ["n", "note"])
        #expect(out.rows()[0]["note"] == .string("x"))
    }

    @Test func dstOverlapAndGap() throws {
        // America/New_York: 2024-03-10 02:30 does not exist; 2024-11-03 01:30 happens twice.
        var c = SchemaConfiguration()
        c.timezone = "America/New_York"
        c.columns = [("t", { var s = SchemaConfiguration.ColumnSpec(type: .timestamp); s.format = "yyyy-MM-dd HH:mm"; return s }())]
        let (out, _) = try apply(c, strings(["t"], [["2024-03-10 02:30"], ["2024-11-03 01:30"], ["2024-07-01 12:00"]]))
        let r = out.rows().map { $0["t"]!.description }
        #expect(r[0] == "2024-03-10T07:30:00.000000Z") // read with the offset before the gap (−5)
        #expect(r[1] == "2024-11-03T05:30:00.000000Z") // the first (daylight, −4) instant
        #expect(r[2] == "2024-07-01T16:00:00.000000Z")
    }
}
