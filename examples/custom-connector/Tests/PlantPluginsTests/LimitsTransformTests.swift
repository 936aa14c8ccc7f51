import ConnectorKit
@testable import PlantPlugins
import Testing

@Suite struct LimitsTransformTests {
    static func batch(_ values: [Double?]) -> RecordBatch {
        RecordBatch(schema: Schema([Field("t", .float64)]), columns: [Column(.float64(values.map { $0 ?? 0 }), validity: values.map { $0 != nil })],
                    origins: RecordOrigins(file: "f", lines: values.indices.map { Int64($0 + 1) }, byteOffsets: values.indices.map { Int64($0) }))
    }

    static func flags(_ c: LimitsConfiguration, _ values: [Double?]) throws -> [Value] {
        var dead = DeadLetterCollector(stage: "limits")
        let out = try LimitsTransform(c).process(batch(values), context: TransformContext(pipeline: "p", runStarted: 0), deadLetters: &dead)
        #expect(out.schema.fields.last == Field(c.flag, .bool))
        return (0..<out.count).map { out.value(row: $0, column: 1) }
    }

    @Test func flagsValuesOutsideTheBandAndKeepsNullsNull() throws {
        let c = LimitsConfiguration(column: "t", min: 10, max: 80, flag: "alarm")
        #expect(try Self.flags(c, [9.9, 10, 50, 80, 80.1, nil]) == [.bool(true), .bool(false), .bool(false), .bool(false), .bool(true), .null])
        let onlyMax = LimitsConfiguration(column: "t", min: nil, max: 0, flag: "alarm")
        #expect(try Self.flags(onlyMax, [-1e9, 1]) == [.bool(false), .bool(true)])
    }

    @Test func aMissingColumnIsAConfigurationError() throws {
        let c = LimitsConfiguration(column: "temperature", min: nil, max: 1, flag: "alarm")
        let error = #expect(throws: ConnectorError.self) { _ = try Self.flags(c, [1]) }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("no column 'temperature' (columns: t)") == true)
    }

    @Test func validationNamesTheKey() {
        #expect(#expect(throws: ConfigIssue.self) { try LimitsConfiguration(column: "t", min: nil, max: nil, flag: "a").validate() }?.key == ["max"])
        #expect(#expect(throws: ConfigIssue.self) { try LimitsConfiguration(column: "t", min: 5, max: 1, flag: "a").validate() }?.key == ["min"])
    }
}
