import ConnectorKit
@testable import Connectors
import Testing

/// Inputs the fuzzers (scripts/fuzz.sh) found to crash, kept as tests. Each also lives in the
/// target's seed corpus (Tests/Fuzz/corpus), so the fuzzer starts from it.
@Suite struct FuzzRegressionTests {
    /// 38 integer digits cast to decimal(12,3): with the 3 fraction digits added, 41 digits overflowed Int128 (a trap)
    /// before the precision check. Now: out of range, a dead letter, and the other rows land.
    @Test func decimalWithMoreDigitsThanInt128HoldsIsADeadLetterNotATrap() throws {
        var c = SchemaConfiguration()
        c.decimalSeparator = ","
        c.thousandsSeparator = "."
        c.columns = [("amount", .init(type: .decimal(precision: 12, scale: 3))), ("wide", .init(type: .decimal(precision: 38, scale: 0)))]
        let values = [
            ["36854775808000000000000000000000000000", "1"],
            ["1", "99999999999999999999999999999999999999"],
            ["1", "999999999999999999999999999999999999999"],
            ["123456789,123", "5"],
            ["1234567890,1", "5"],
        ]
        let batch = RecordBatch(schema: .strings(["amount", "wide"]),
                                columns: [0, 1].map { i in Column(.string(StringColumn(values.map { $0[i] }))) },
                                origins: RecordOrigins(file: "f", lines: [1, 2, 3, 4, 5], byteOffsets: [0, 1, 2, 3, 4]))
        var dl = DeadLetterCollector(stage: "schema")
        let out = try SchemaTransform(c).process(batch, context: TransformContext(pipeline: "t", runStarted: 0), deadLetters: &dl)
        #expect(out.rows().map { $0["amount"]?.description } == ["1.000", "123456789.123"])
        #expect(dl.letters.map(\.origin.line) == [1, 3, 5])
    }
}
