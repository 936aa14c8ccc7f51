import ConnectorKit
import CoreConnectors
import ParquetConnector
import PostgresConnector
import Foundation
import Logging
import Parquet

/// The quarterly archive: each day partition of a pipeline's table that ended `older_than` ago or
/// earlier is read with `COPY … TO STDOUT (FORMAT binary)`, written to Parquet, read back and
/// compared with the partition (row count and SHA-256 over every value), recorded in the
/// manifest, and only then detached and dropped — one transaction per partition, holding a SHARE
/// lock on the partition from the COPY to the DROP, so no row can arrive in between.
///
/// A kill at any point loses nothing: before the rename only a hidden temporary file exists (the
/// next run deletes it); after it, the partition still exists until the transaction commits, and
/// the next run verifies the file against it (or writes it again, under the same name) before
/// dropping. A partition whose file does not verify is kept and reported.
///
/// libpq blocks, and encoding is heavy: the job runs on its own thread.
public actor PostgresArchiveJob: Job {
    nonisolated let executor = ThreadExecutor(name: "sluice-archive")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let configuration: PostgresArchiveJobConfiguration
    let baseDirectory: String

    public init(_ configuration: PostgresArchiveJobConfiguration, baseDirectory: String) {
        self.configuration = configuration
        self.baseDirectory = baseDirectory
    }

    struct Partition {
        var schema: String
        var name: String
        /// Days since 1970-01-01 of the bounds [from, to).
        var from: Int
        var to: Int
        var qualified: String { SQL.qualified(schema, name) }
        var display: String { "\(schema).\(name)" }
    }

    public func run(context: JobContext) async throws -> JobReport {
        defer { executor.shutdown() }
        guard let pipeline = context.pipelines.first(where: { $0.name == configuration.pipeline }),
              let sink = pipeline.sinkConfiguration as? PostgresConfiguration, let partitioning = sink.partition else {
            throw ConnectorError(.configuration, "pipeline '\(configuration.pipeline)' has no partitioned postgres sink", pipeline: context.job)
        }
        let password = try sink.resolvedPassword(context: pipeline.buildContext)
        let conn: PQConnection
        do {
            conn = try PQConnection(conninfo: sink.url, password: password, connectTimeout: max(1, Int(sink.connectTimeout.seconds)),
                                    ioTimeout: sink.timeout.seconds, applicationName: "sluice/\(context.job)")
            try conn.exec("SET TimeZone = 'UTC'")
        } catch {
            throw ConnectorError(.notConnected, "\(error)", pipeline: context.job, underlying: error)
        }
        let root = resolve(configuration.path) + "/" + (configuration.table ?? sink.table)
        let manifest = ArchiveManifest(path: configuration.manifest.map(resolve) ?? root + "/manifest.jsonl")
        let today = Int(floor(Date().timeIntervalSince1970 / 86_400))
        let cutoff = today - configuration.days
        let partitions: [Partition]
        do {
            partitions = try listPartitions(conn, schema: sink.schema, table: sink.table).filter { $0.to <= cutoff }.sorted { $0.from < $1.from }
        } catch {
            throw ConnectorError(.io, "listing the partitions of \(sink.schema).\(sink.table): \(error)", pipeline: context.job, underlying: error)
        }
        var report = JobReport(nothingToDo: "\(sink.schema).\(sink.table): no partition ended on or before \(CivilDate.format(days: Int32(cutoff))); nothing to archive")
        if !configuration.dryRun, FileManager.default.fileExists(atPath: root) {
            for stale in try temporaryFiles(under: root) { unlink(stale) }
        }
        // Read once: a partition archived before (killed before its drop) has a line here.
        var archived = configuration.dryRun ? [:] : try manifest.latestEntries()
        for partition in partitions {
            let folder = root + "/date=" + CivilDate.format(days: Int32(partition.from))
            let final = folder + "/" + partition.name + ".parquet"
            if configuration.dryRun {
                let rows = (try? conn.exec("SELECT count(*) FROM ONLY \(partition.qualified)").first?.first ?? nil) ?? "?"
                report.lines.append(.init(partition.display, .skipped, "would archive \(rows) rows to \(final), verify, and drop the partition (dry run)"))
                continue
            }
            let line: JobReport.Line
            do {
                line = try archive(partition, parent: SQL.qualified(sink.schema, sink.table), key: partitioning.column, folder: folder, final: final,
                                   manifest: manifest, archived: &archived, root: root, conn: conn, logger: context.logger)
            } catch {
                _ = try? conn.exec("ROLLBACK")
                line = .init(partition.display, .failed, "\(error); the partition is kept")
            }
            switch line.outcome {
            case .failed: context.logger.error("\(line)")
            default: context.logger.info("\(line)")
            }
            report.lines.append(line)
            if !conn.isAlive { break }
        }
        return report
    }

    private func resolve(_ path: String) -> String {
        path.hasPrefix("/") ? path : baseDirectory + "/" + path
    }

    // MARK: One partition

    private func archive(_ partition: Partition, parent: String, key: String, folder: String, final: String,
                         manifest: ArchiveManifest, archived: inout [String: ArchiveManifest.Entry], root: String, conn: PQConnection,
                         logger: Logger) throws -> JobReport.Line {
        try conn.exec("BEGIN")
        try conn.exec("SET LOCAL lock_timeout = \(SQL.literal("\(Int(configuration.lockTimeout.seconds * 1000))ms"))")
        try conn.exec("LOCK TABLE ONLY \(partition.qualified) IN SHARE MODE")
        let columns = try tableColumns(conn, partition)
        guard let keyIndex = columns.firstIndex(where: { $0.name == key }) else {
            throw ConnectorError(.configuration, "the partition has no column '\(key)'")
        }
        let copy = "COPY (SELECT * FROM ONLY \(partition.qualified) ORDER BY \(SQL.identifier(key))) TO STDOUT (FORMAT binary)"

        // Archived before, killed before the drop: the file must still match the partition.
        if let entry = archived[partition.display], FileManager.default.fileExists(atPath: final),
           try RowDigest.sha256(ofFile: final) == entry.sha256 {
            let fromTable = try digestOfCopy(conn, copy, columns: columns, keyIndex: keyIndex, writer: nil)
            let fromFile = try digestOfFile(final)
            if fromTable.rows == fromFile.rows && fromTable.digest == fromFile.digest {
                try dropPartition(partition, parent: parent, conn: conn)
                return .init(partition.display, .done, "\(entry.rows) rows were archived to \(final) before; verified again and dropped the partition")
            }
            logger.warning("the archived file no longer matches its partition; writing it again", metadata: ["partition": "\(partition.display)"])
        }

        try FileUtilities.makeDirectories(folder)
        let temporary = folder + "/" + HivePartitionedWriter.temporaryPrefix + UUID().uuidString.lowercased() + ".parquet.tmp"
        defer { unlink(temporary) }
        let output = try FileOutput(creating: temporary)
        var options = try configuration.writerOptions()
        options.createdBy = ParquetWriterOptions().createdBy
        let writer = try ParquetFileWriter(output: output, schema: Schema(columns.map { Field($0.name, $0.type, nullable: !$0.notNull) }), options: options)
        let written = try digestOfCopy(conn, copy, columns: columns, keyIndex: keyIndex, writer: writer)
        try writer.finish(metadata: [
            KeyValue(key: "sluice.archive.partition", value: partition.display),
            KeyValue(key: "sluice.archive.table", value: parent),
            KeyValue(key: "sluice.archive.range", value: "[\(CivilDate.format(days: Int32(partition.from))), \(CivilDate.format(days: Int32(partition.to))))"),
        ])
        try output.sync()
        try output.close()
        let readBack = try digestOfFile(temporary)
        guard readBack.rows == written.rows, readBack.digest == written.digest else {
            try conn.exec("ROLLBACK")
            return .init(partition.display, .failed, "the Parquet file does not match the partition (\(readBack.rows) rows read back of \(written.rows), "
                + "checksum \(readBack.digest == written.digest ? "equal" : "different")); the partition is kept")
        }
        guard rename(temporary, final) == 0 else {
            throw ConnectorError(.io, "cannot rename \(temporary) to \(final): \(FileUtilities.errnoText())")
        }
        try FileUtilities.syncDirectory(folder)
        try FileUtilities.syncDirectory(root)
        let size = (try? FileManager.default.attributesOfItem(atPath: final)[.size] as? Int64) ?? nil
        let entry = ArchiveManifest.Entry(partition: partition.display, table: parent.replacingOccurrences(of: "\"", with: ""),
                                          file: String(final.dropFirst((manifest.path as NSString).deletingLastPathComponent.count + 1)),
                                          sha256: try RowDigest.sha256(ofFile: final), bytes: size ?? 0, rows: written.rows, key: key,
                                          min: written.min, max: written.max, archivedAt: CivilDate.formatTimestamp(micros: Int64(Date().timeIntervalSince1970 * 1_000_000)))
        try manifest.append(entry)
        archived[entry.partition] = entry
        try dropPartition(partition, parent: parent, conn: conn)
        return .init(partition.display, .done, "archived \(written.rows) rows to \(final) (\(size ?? 0) bytes), verified, dropped the partition")
    }

    private func dropPartition(_ partition: Partition, parent: String, conn: PQConnection) throws {
        try conn.exec("ALTER TABLE \(parent) DETACH PARTITION \(partition.qualified)")
        try conn.exec("DROP TABLE \(partition.qualified)")
        try conn.exec("COMMIT")
    }

    struct Digest {
        var rows: Int64
        var digest: String
        var min: String?
        var max: String?
    }

    /// Streams the COPY through the decoder into `writer` (when given), digesting every row.
    private func digestOfCopy(_ conn: PQConnection, _ sql: String, columns: [PostgresColumn], keyIndex: Int, writer: ParquetFileWriter?) throws -> Digest {
        var decoder = PostgresBinaryCopyDecoder(columns: columns)
        var digest = RowDigest()
        var failure: (any Error)?
        var lo: Int64?, hi: Int64?
        func drain() {
            guard failure == nil, let batch = decoder.takeBatch() else { return }
            digest.update(batch)
            Self.extend(&lo, &hi, batch.columns[keyIndex])
            do { try writer?.write(batch) } catch { failure = error }
        }
        try conn.copyOut(sql) { piece in
            guard failure == nil else { return }
            do { try decoder.feed(piece) } catch { failure = error; return }
            if decoder.rowsInBatch >= 65_536 { drain() }
        }
        drain()
        if let failure { throw failure }
        guard decoder.finished else { throw ConnectorError(.invalidData, "the COPY ended without its trailer") }
        let render = { (v: Int64) -> String in
            columns[keyIndex].kind == .date ? CivilDate.format(days: Int32(v)) : CivilDate.formatTimestamp(micros: v)
        }
        return Digest(rows: digest.rows, digest: digest.finalize(), min: lo.map(render), max: hi.map(render))
    }

    private func digestOfFile(_ path: String) throws -> Digest {
        let reader = try ParquetFileReader(path: path)
        var digest = RowDigest()
        for g in 0..<reader.rowGroupCount { digest.update(try reader.readBatch(g)) }
        return Digest(rows: digest.rows, digest: digest.finalize())
    }

    private static func extend(_ lo: inout Int64?, _ hi: inout Int64?, _ column: Column) {
        func visit(_ v: Int64) {
            if lo == nil || v < lo! { lo = v }
            if hi == nil || v > hi! { hi = v }
        }
        switch column.values {
        case let .timestamp(a): for i in a.indices where !column.isNull(i) { visit(a[i]) }
        case let .date(a): for i in a.indices where !column.isNull(i) { visit(Int64(a[i])) }
        default: break
        }
    }

    // MARK: Catalog

    private func listPartitions(_ conn: PQConnection, schema: String, table: String) throws -> [Partition] {
        let rows = try conn.exec("""
            SELECT cn.nspname, c.relname, pg_get_expr(c.relpartbound, c.oid)
            FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
            JOIN pg_class t ON t.oid = i.inhparent JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = $1 AND t.relname = $2
            """, [schema, table])
        return rows.compactMap { row in
            guard let s = row[0], let name = row[1], let bound = row[2],
                  let from = Self.boundDay(bound, after: "FROM ('"), let to = Self.boundDay(bound, after: "TO ('") else { return nil }
            return Partition(schema: s, name: name, from: from, to: to)
        }
    }

    /// The day of a range bound in `pg_get_expr` output: `FOR VALUES FROM ('2026-01-01 00:00:00+00') TO (…)`.
    static func boundDay(_ expression: String, after marker: String) -> Int? {
        guard let r = expression.range(of: marker) else { return nil }
        let text = Array(expression[r.upperBound...].utf8.prefix(10))
        guard text.count == 10, text[4] == UInt8(ascii: "-"), text[7] == UInt8(ascii: "-"),
              let y = Int(String(decoding: text[0..<4], as: UTF8.self)), let m = Int(String(decoding: text[5..<7], as: UTF8.self)),
              let d = Int(String(decoding: text[8..<10], as: UTF8.self)) else { return nil }
        return CivilDate.days(year: y, month: m, day: d)
    }

    private func tableColumns(_ conn: PQConnection, _ partition: Partition) throws -> [PostgresColumn] {
        let rows = try conn.exec("""
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull FROM pg_attribute a
            WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [partition.qualified])
        return try rows.map { row in
            let name = row[0] ?? "", sqlType = row[1] ?? ""
            guard let (kind, type) = PostgresColumn.mapping(sqlType: sqlType) else {
                throw ConnectorError(.configuration, "column '\(name)' is \(sqlType), which the archive does not carry")
            }
            return PostgresColumn(name: name, sqlType: sqlType, notNull: row[2] == "t", kind: kind, type: type)
        }
    }

    private func temporaryFiles(under root: String) throws -> [String] {
        let names = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? []
        return names.filter { ($0 as NSString).lastPathComponent.hasPrefix(HivePartitionedWriter.temporaryPrefix) && $0.hasSuffix(".tmp") }.map { root + "/" + $0 }
    }
}
