import ConnectorKit
@testable import Connectors
import Foundation
import PipelineLoader
import Testing
import TestSupport

/// Inputs the fuzzers (scripts/fuzz.sh) found to crash, kept as tests. Each also lives in the
/// target's seed corpus (Tests/Fuzz/corpus), so the fuzzer starts from it.
@Suite(.blockingWork) struct FuzzRegressionTests {
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

    /// A pipeline file (1,362 bytes of fuzzed TOML that the TOML parser accepts) on which the
    /// key-line locator looped for ever: an array element that no value starts with was never
    /// stepped over. Now it loads (or fails) at once.
    @Test func keyLocatorFinishesOnAnArrayElementNoValueStartsWith() throws {
        let base64 = [
            "IyBUaCogMjM6MzAgam9iOiB0aGUgcGFydGl0aW9ucyBmb3IgdGhlIG5leHQgZGF5cyBleGlzdCBiZWZvcmUgdGhlIG4AAAAA",
            "IHNoKWZ0J3MgZmlyc3Qgcm93LCBmb3IKIyBldmVyeSBwaXBlbGluZSB0aGF0IGxvYWRzIGEgcGFydGl0aW9uZWQgUG9zdGdy",
            "ZVNRTCB0YWJsZS4gYHNsdWljZSBvbmNlIHBhcnRpdGlvbi1tYWludGVu09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT",
            "09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT09PT",
            "09PTYW5jZWAKIyBydW5zIGdlIGxtZW5mb3JtXV0KdHlwZSA9ICJjc3YiCgpbW3RyYW5zZm9ybV1dCnR5cGUgPSAic2NoZW1h",
            "IgpbdHJhbnNmOnJtLmNvbHVtbnNdCnRpbWVzdGFtcCA9IHsgdHlwLiBgc3NsbW9kZT1kaXNhYmxlIgp0YWJlID2gIoiWkJqM",
            "iy+eknAiLCBudWxsYWJsZSA9IGZhbHNlIH0KbWFjaGluZSA9ICJzdHJpbmciCnRlNW1wZXJhdHVyZSA9ICJmbG9hdDY0Igpw",
            "cmVzc3VyZSA9ICJkZWNpbWFsKDgsMikiCnN0YXR1cyA9ICJzdHJpbmciCmNvdWZ0ID0gImludDY0IgoKXXNuaWtbCnR5cGWx",
            "BAAAAAAAAGdyZXMiCnVybCA9ICJwb3N0Z3Jlc3FsOi8vcG9zdGdyZXNAMTI3LjAuMGx1aWNlIG9uY2UgcGFydGl0aW9uLW1h",
            "aW50ZW5hbmNlYAojIHJ1bnMgZ2UgbGllbmZvcm1dXQp0eXBlID0gImNzdiIKCltbdHJhbnNmb3JtXV0KdHlwZSA96CJzY2hl",
            "bWEiClt0cmFuc2Zvcm0uY29sdW1uc10KdGltZXN0YW1wID0geyB0eXBlID2gIoiWkpqMi56ScCIsIG51bGxhYmxlID1yZSA9",
            "ICJkZWNpbWFsKDgsMikiCnN0YXR1cyA9ICJzdHJpbmciCmNvdQIAAAAAAAAAZnQgPSAiaW50NjQiCgpbc2lua10KdHlwZSC7",
            "ICJwb3N0Z3JlcyIKdXJsID0gInBvc3RncmVzcWw6Ly9wb3N0Z3Jlc0AxMjcuMC4wLjE6NTU0MzIvcG9zdGdyZXM/c3NsbW9k",
            "ZT1kaXNhYmxlIgp0YWJlID2gIoiWkJqMiy+eknAiLCBudWxsYWJsZSA9IGZhbHNlIH0KbWFjaGluZSA9ICJzdHJpbmciCnRl",
            "NW1wZXJhdHVyZSA9ICJmbG9hdDY0IgpwcmVzc3VyZSA9ICJkZWNpbWFsKDgsMikiCnN0YXR1cyA9ICJzdHJpbmciCmNvdWZ0",
            "ID0gImludDY0IgoKXXNuaWtbCnR5cGWxBAAAAAAAAGdyZXMiCnVybCA9ICJwb3N0Z3Jlc3FsOi8vcG9zdGdyZXNAMTI3LjAu",
            "MC4xOjU1NDMyL3Bvc3RncmVzP3NzbG1vZGU9ZGlzYWJsZSIKdGFibGUgPSAibGluZV9yZWFkaW5ncyIKcGFydGl0aW9uIDwg",
            "eyBjb2x1bW4gPSAidGltZXN0YW1wIiwLIGludHBhcnRpdGlvbi1tYWludGVuYW5jZWAKIyBydW5zIGl0IGJ5IGhhbmRnZSBw",
            "YXJ0aXRpb25AQEBAQEBAQEBAQEBAQEBAQEBsdDogZWFjaCB0YWJsZSEncyBvd24gcGFydGl0aW9uLnByZW1ha2UK",
        ].joined()
        let text = String(decoding: Data(base64Encoded: base64)!, as: UTF8.self)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? PipelineFileLoader(registry: BuiltinPlugins.registry, environment: [:]).loadAny(text: text, file: "fuzz.toml")
            done.signal()
        }
        #expect(done.wait(timeout: .now() + 10) == .success, "loading the file did not finish within 10 s")
    }

    /// `[[= "schema"` (a header with no name) made TOMLKit's parser, toml++, fail an internal
    /// assertion (an abort in debug builds, undefined behaviour in release ones). It is now a
    /// syntax error with its line, found before the parser runs.
    @Test func tableHeaderWithoutANameIsASyntaxErrorNotAnAbort() {
        for text in ["[pipeline]\nname = \"x\"\n[[= \"schema\"\n", "# c\n\n[ = 1]\n"] {
            do {
                _ = try PipelineFileLoader(registry: BuiltinPlugins.registry, environment: [:]).loadAny(text: text, file: "p.toml")
                Issue.record("accepted: \(text)")
            } catch {
                let message = error.errors.first.map { "\($0)" } ?? ""
                #expect(message.contains("p.toml:3") && message.contains("table header needs a name"), "\(message)")
            }
        }
    }
}
