import ConnectorKit
import MachineSimulator
@testable import PostgresConnector
import Testing
import TestSupport

/// The binary COPY encoder against the decoder the backup job reads PostgreSQL's own COPY output
/// with: random batches of every type, NULLs, decimals at every scale up to 38 digits, chosen rows.
/// (What PostgreSQL itself makes of the bytes is checked by PostgresSinkTests' round trip.)
@Suite(.blockingWork) struct PostgresCopyEncoderTests {
    static func columnKind(_ t: DataType) -> PostgresColumn {
        let (kind, type) = PostgresColumn.mapping(sqlType: PostgresBinaryCopy.sqlType(t))!
        return PostgresColumn(name: "c", sqlType: PostgresBinaryCopy.sqlType(t), notNull: false, kind: kind, type: type)
    }

    static func decode(_ bytes: [UInt8], _ schema: Schema) throws -> RecordBatch? {
        var decoder = PostgresBinaryCopyDecoder(columns: schema.fields.map { columnKind($0.type) })
        try bytes.withUnsafeBytes { try decoder.feed($0) }
        #expect(decoder.finished, "no trailer")
        return decoder.takeBatch()
    }

    static func randomDecimal(precision: Int, _ g: inout some RandomNumberGenerator) -> Int128 {
        let digits = Int.random(in: 0...precision, using: &g)
        var v: Int128 = 0
        for _ in 0..<digits { v = v * 10 + Int128(Int.random(in: 0...9, using: &g)) }
        // Values with runs of zeros (whole base-10000 digits of zeros) are the tricky ones.
        if Bool.random(using: &g), digits > 4 { v -= v % 10000 }
        return Bool.random(using: &g) ? -v : v
    }

    static func randomBatch(rows: Int, _ g: inout some RandomNumberGenerator) -> RecordBatch {
        let scale = Int.random(in: 0...38, using: &g)
        let types: [DataType] = [.bool, .int32, .int64, .float64, .decimal(precision: 38, scale: scale), .decimal(precision: 8, scale: 2),
                                 .string, .date, .timestamp]
        var columns: [Column] = []
        for t in types {
            let values: ColumnValues
            switch t {
            case .bool: values = .bool((0..<rows).map { _ in Bool.random(using: &g) })
            case .int32: values = .int32((0..<rows).map { _ in Int32.random(in: .min ... .max, using: &g) })
            case .int64: values = .int64((0..<rows).map { _ in Int64.random(in: .min ... .max, using: &g) })
            case .float64: values = .float64((0..<rows).map { _ in Double.random(in: -1e300...1e300, using: &g) })
            case let .decimal(p, _): values = .decimal((0..<rows).map { _ in randomDecimal(precision: p, &g) })
            case .string: values = .string(StringColumn((0..<rows).map { _ in String((0..<Int.random(in: 0...40, using: &g)).map { _ in "aé€x;\n\"".randomElement(using: &g)! }) }))
            case .date: values = .date((0..<rows).map { _ in Int32.random(in: -700_000...2_900_000, using: &g) })
            case .timestamp: values = .timestamp((0..<rows).map { _ in Int64.random(in: -60_000_000_000_000_000...200_000_000_000_000_000, using: &g) })
            }
            let validity = Bool.random(using: &g) ? (0..<rows).map { _ in Int.random(in: 0..<5, using: &g) != 0 } : nil
            columns.append(Column(values, validity: validity))
        }
        let schema = Schema(types.enumerated().map { Field("c\($0.offset)", $0.element) })
        return RecordBatch(schema: schema, columns: columns, origins: RecordOrigins(file: "t", lines: (0..<rows).map { Int64($0) }, byteOffsets: (0..<rows).map { Int64($0) }))
    }

    /// What the decoder gives back for a NULL is a placeholder: compare values where present.
    static func expectSame(_ decoded: RecordBatch, _ original: RecordBatch) {
        #expect(decoded.count == original.count)
        guard decoded.count == original.count else { return }
        for c in original.columns.indices {
            for r in 0..<original.count {
                let a = original.columns[c].isNull(r) ? Value.null : original.value(row: r, column: c)
                let b = decoded.columns[c].isNull(r) ? Value.null : decoded.value(row: r, column: c)
                if a != b {
                    Issue.record("column \(c) (\(original.schema.fields[c].type)) row \(r): sent \(a), decoded \(b)")
                    return
                }
            }
        }
    }

    @Test func randomBatchesRoundTripThroughTheDecoder() throws {
        var g = SplitMix64(seed: 20261201)
        var encoder = PostgresCopyEncoder()  // reused, as the sink does: nothing may leak between batches
        for round in 0..<60 {
            let batch = Self.randomBatch(rows: Int.random(in: 0...300, using: &g), &g)
            encoder.encode(batch)
            if batch.isEmpty {
                #expect(encoder.bytes == PostgresBinaryCopy.header + PostgresBinaryCopy.trailer)
                continue
            }
            let decoded = try #require(try Self.decode(encoder.bytes, batch.schema), "round \(round)")
            Self.expectSame(decoded, batch)
            // Some rows, in another order, as the bisection of refused rows sends them.
            let rows = (0..<batch.count).filter { _ in Bool.random(using: &g) }.shuffled(using: &g)
            encoder.encode(batch, rows: rows)
            if rows.isEmpty { continue }
            let part = try #require(try Self.decode(encoder.bytes, batch.schema))
            Self.expectSame(part, batch.select(rows))
        }
    }

    @Test func unframedRowsAreTheFramedOnesWithoutHeaderAndTrailer() {
        var g = SplitMix64(seed: 7)
        let batch = Self.randomBatch(rows: 50, &g)
        var encoder = PostgresCopyEncoder()
        encoder.encode(batch)
        let framed = encoder.bytes
        encoder.encode(batch, framed: false)
        #expect(PostgresBinaryCopy.header + encoder.bytes + PostgresBinaryCopy.trailer == framed)
    }

    /// numeric digits as PostgreSQL writes them (`SELECT …::numeric(p,s)` sent with
    /// `COPY (FORMAT binary)`): base-10000 digits without leading or trailing zero digits.
    @Test(arguments: [
        (Int128(0), 2, [0, 0, 0, 2] as [Int16]),
        (12345, 2, [2, 0, 0, 2, 123, 4500]),  // 123.45
        (-1, 4, [1, -1, 0x4000, 4, 1]),  // -0.0001
        (1, 8, [1, -2, 0, 8, 1]),  // 0.00000001
        (100_000_000, 0, [1, 2, 0, 0, 1]),  // 100000000
        (1_000_000_000_001, 4, [4, 2, 0, 4, 1, 0, 0, 1]),  // 100000000.0001
        (-99_999_999, 2, [3, 1, 0x4000, 2, 99, 9999, 9900]),  // -999999.99
        (tenTo38 - 1, 38, [10, -1, 0, 38] + [Int16](repeating: 9999, count: 9) + [9900]),  // 0.999…9, 38 nines
    ])
    func numericDigitsAsPostgreSQLWritesThem(unscaled: Int128, scale: Int, expected: [Int16]) {
        var out = [UInt8](repeating: 0, count: 8 + 2 * 24)
        let length = withUnsafeTemporaryAllocation(of: UInt16.self, capacity: 24) { groups in
            out.withUnsafeMutableBytes { PostgresCopyEncoder.writeNumeric(unscaled, scale: scale, groups: groups, to: $0.baseAddress!) }
        }
        out.removeSubrange(length...)
        let words = stride(from: 0, to: out.count, by: 2).map { Int16(bitPattern: UInt16(out[$0]) << 8 | UInt16(out[$0 + 1])) }
        #expect(words == expected)
    }
}

private let tenTo38 = (0..<38).reduce(Int128(1)) { p, _ in p * 10 }
