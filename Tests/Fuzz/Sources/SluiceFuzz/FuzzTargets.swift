import ConnectorKit
import Connectors
import Foundation
import Parquet
import PipelineLoader

/// libFuzzer entry points for the parsers of outside input: the CSV decoder, the log decoder
/// (regex and key=value), the schema casts (time formats, decimals, numbers), the pipeline-file
/// loader and the Parquet reader. One binary; `SLUICE_FUZZ_TARGET` picks the target (scripts/fuzz.sh sets it).
///
/// Each target also checks an invariant, so a wrong answer is found as well as a crash: a decoder
/// consumes no more than it was given and never yields a dead letter longer than the record limit.
enum FuzzTarget: String {
    case csv, logRegex = "log-regex", logKV = "log-kv", schema, pipeline, parquet

    static let current: FuzzTarget = {
        let name = ProcessInfo.processInfo.environment["SLUICE_FUZZ_TARGET"] ?? "csv"
        guard let t = FuzzTarget(rawValue: name) else { fatalError("SLUICE_FUZZ_TARGET: unknown target \(name)") }
        return t
    }()
}

/// One input, handed over by libFuzzer.
func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    switch FuzzTarget.current {
    case .csv: fuzzCSV(bytes)
    case .logRegex: fuzzLog(bytes, kv: false)
    case .logKV: fuzzLog(bytes, kv: true)
    case .schema: fuzzSchema(bytes)
    case .pipeline: fuzzPipelineFile(bytes)
    case .parquet: fuzzParquet(bytes)
    }
    return 0
}

/// Feeds `input` to a decoder as the engine does: in chunks (sizes taken from the input itself),
/// then once more at the end of the file.
func decodeInChunks(_ decoder: any RecordDecoder, _ input: [UInt8], maxRecordBytes: Int) {
    guard var session = try? decoder.makeSession(file: "fuzz", state: nil) else { return }
    let chunk = max(1, Int(input.first ?? 64))
    var carry: [UInt8] = []
    var offset: Int64 = 0
    var fed = 0
    func drain(atEnd: Bool) {
        var out = DecodedRecords()
        var rounds = 0
        while true {
            rounds += 1
            // Odd rounds let fields point into the input (as the engine does), even rounds copy.
            let keep = rounds % 2 == 1
            let (consumed, _) = carry.withUnsafeBytes {
                session.decode($0, context: DecodeContext(file: "fuzz", offset: offset, line: 1, atEnd: atEnd, maxRows: 64,
                                                          inputIndex: keep ? 0 : nil), output: &out)
            }
            precondition(consumed >= 0 && consumed <= carry.count, "consumed \(consumed) of \(carry.count) bytes")
            for letter in out.takeDeadLetters() {
                precondition(letter.raw.count <= max(maxRecordBytes, carry.count), "a dead letter of \(letter.raw.count) bytes")
            }
            if out.count > 0 {
                let batch = out.takeTextBatch(file: "fuzz", input: carry).recordBatch()
                for r in 0..<batch.count { precondition(batch.origins.rawBytes(r).count <= carry.count, "a raw record longer than the input") }
            }
            carry.removeFirst(consumed)
            offset += Int64(consumed)
            if consumed == 0 || carry.isEmpty || rounds > 100_000 { break }
        }
    }
    while fed < input.count {
        let end = min(input.count, fed + chunk)
        carry += input[fed..<end]
        fed = end
        drain(atEnd: false)
    }
    drain(atEnd: true)
}

func fuzzCSV(_ bytes: [UInt8]) {
    var c = CSVConfiguration()
    c.maxRecordBytes = 1024
    // The first byte picks the dialect: delimiter, encoding, header.
    let pick = bytes.first ?? 0
    c.delimiter = [UInt8(ascii: ","), UInt8(ascii: ";"), 0x09, UInt8(ascii: "|")][Int(pick & 3)]
    c.encoding = (pick & 4) != 0 ? .windows1252 : .utf8
    if (pick & 8) != 0 { c.header = false; c.columns = ["a", "b", "c"] }
    decodeInChunks(CSVDecoder(c), Array(bytes.dropFirst()), maxRecordBytes: c.maxRecordBytes)
}

func fuzzLog(_ bytes: [UInt8], kv: Bool) {
    var c = LogConfiguration()
    c.maxRecordBytes = 1024
    if kv {
        c.mode = .kv
        c.fields = ["machine", "temp", "msg"]
    } else {
        c.pattern = #"^(?<ts>\S+ \S+) (?<level>[A-Z]+) (?<msg>.*)$"#
    }
    c.encoding = ((bytes.first ?? 0) & 1) != 0 ? .windows1252 : .utf8
    decodeInChunks(LogDecoder(c), Array(bytes.dropFirst()), maxRecordBytes: c.maxRecordBytes)
}

/// Values split on `;` (a record per line) cast to every type, with decimal commas and several
/// time layouts; one column's layout comes from the input too.
func fuzzSchema(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).prefix(64)
    var layout = "dd/MM/yyyy HH:mm:ss"
    var rows: [[String]] = []
    for (i, line) in lines.enumerated() {
        if i == 0 && line.hasPrefix("#") { layout = String(line.dropFirst().prefix(64)); continue }
        let fields = line.split(separator: ";", omittingEmptySubsequences: false).map(String.init)
        rows.append((0..<9).map { $0 < fields.count ? fields[$0] : "" })
    }
    guard !rows.isEmpty else { return }
    let names = ["ts", "day", "amount", "small", "big", "real", "flag", "text", "custom"]
    var config = SchemaConfiguration()
    config.decimalSeparator = ","
    config.thousandsSeparator = "."
    config.timezone = "America/Sao_Paulo"
    func spec(_ type: DataType, _ format: String? = nil) -> SchemaConfiguration.ColumnSpec {
        var s = SchemaConfiguration.ColumnSpec(type: type)
        s.format = format
        return s
    }
    config.columns = [
        ("ts", spec(.timestamp, "dd/MM/yyyy HH:mm:ss")), ("day", spec(.date, "yyyy-MM-dd")),
        ("amount", spec(.decimal(precision: 12, scale: 3))), ("small", spec(.int32)), ("big", spec(.int64)),
        ("real", spec(.float64)), ("flag", spec(.bool)), ("text", spec(.string)), ("custom", spec(.timestamp, layout)),
    ]
    guard let transform = try? SchemaTransform(config) else { return }
    let columns = (0..<names.count).map { c in Column(.string(StringColumn(rows.map { $0[c] }))) }
    let batch = RecordBatch(schema: Schema(names.map { Field($0, .string) }), columns: columns,
                            origins: RecordOrigins(file: "fuzz", lines: rows.indices.map { Int64($0 + 1) }, byteOffsets: rows.indices.map { Int64($0) }))
    var letters = DeadLetterCollector(stage: "schema")
    guard let out = try? transform.process(batch, context: TransformContext(pipeline: "fuzz", runStarted: 0), deadLetters: &letters) else { return }
    precondition(out.count + letters.letters.count == batch.count, "\(batch.count) rows in, \(out.count) out and \(letters.letters.count) dead letters")
}

func fuzzPipelineFile(_ bytes: [UInt8]) {
    let text = String(decoding: bytes, as: UTF8.self)
    let loader = PipelineFileLoader(registry: BuiltinPlugins.registry, environment: ["PLANT_DB_PASSWORD": "x"])
    _ = try? loader.loadAny(text: text, file: "fuzz.toml")
}

/// libFuzzer's runtime refers to this symbol even when it is driven through `LLVMFuzzerRunDriver`.
@_cdecl("LLVMFuzzerTestOneInput")
public func llvmFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt { fuzzOne(data, size) }

/// A Parquet file from the fuzzer: the reader must either refuse it with a `ParquetError` or
/// return, for every row group, as many values per column as the footer promises.
func fuzzParquet(_ bytes: [UInt8]) {
    guard let reader = try? ParquetFileReader(input: MemoryInput(bytes), limits: .fuzzing) else { return }
    for g in 0..<reader.rowGroupCount {
        guard let columns = try? reader.readRowGroup(g) else { continue }
        let rows = Int(reader.metadata.rowGroups[g].numRows)
        precondition(columns.count == reader.schema.count, "\(columns.count) columns for \(reader.schema.count) fields")
        for c in columns { precondition(c.count == rows, "a column of \(c.count) values in a row group of \(rows) rows") }
    }
}
