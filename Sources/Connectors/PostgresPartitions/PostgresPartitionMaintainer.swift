import ConnectorKit
import CoreConnectors
import Foundation
import Logging

/// One partitioned table a pipeline loads, as the maintenance job sees it.
public struct PartitionedTable: Sendable {
    public var pipeline: String
    public var configuration: PostgresConfiguration
    public var password: String?

    public init(pipeline: String, configuration: PostgresConfiguration, password: String?) {
        self.pipeline = pipeline
        self.configuration = configuration
        self.password = password
    }

    public var displayName: String { "\(configuration.schema).\(configuration.table)" }
}

/// What the maintenance job did for one table.
public struct PartitionMaintenanceReport: Sendable, CustomStringConvertible {
    public enum Outcome: Sendable, Equatable {
        /// Partitions created by this run (possibly none, when all existed).
        case ready(created: [String], existing: Int)
        /// The table is not there yet; its pipeline creates it (and its partitions) on the first load.
        case tableMissing
        case failed(String)
    }

    public var table: String
    public var pipeline: String
    public var outcome: Outcome

    public var description: String {
        if case .failed = outcome { return "\(table) (\(pipeline)): FAILED: \(detail)" }
        return "\(table) (\(pipeline)): \(detail)"
    }

    /// The outcome in words, without the table.
    public var detail: String {
        switch outcome {
        case let .ready(created, existing):
            return created.isEmpty ? "all \(existing) partitions ahead exist" : "created \(created.joined(separator: ", ")); \(existing) existed"
        case .tableMissing:
            return "the table does not exist yet; the pipeline creates it and its partitions on its first load"
        case let .failed(message):
            return message
        }
    }
}

/// The 23:30 job of the seeds: creates the partitions for the next `premake` intervals of every
/// partitioned table, so the night's first rows never wait for DDL (and a DBA sees tomorrow's
/// partition the evening before). Runs on its own thread, like the sink, because libpq blocks.
public actor PostgresPartitionMaintainer {
    nonisolated let executor = ThreadExecutor(name: "sluice-pg-maintenance")
    public nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }

    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    /// Makes the partitions from today's through `premake` ahead (each table's own `premake` when
    /// nil). One table's failure does not stop the others.
    public func run(_ tables: [PartitionedTable], premake: Int?, today: Int = Int(Date().timeIntervalSince1970 / 86400)) -> [PartitionMaintenanceReport] {
        // The connections close when this returns, and the thread ends with them.
        defer { executor.shutdown() }
        var connections: [String: PQConnection] = [:]
        var reports: [PartitionMaintenanceReport] = []
        for table in tables {
            let c = table.configuration
            let key = c.url + "\u{0}" + (table.password ?? "")
            var outcome: PartitionMaintenanceReport.Outcome
            do throws(PQError) {
                let conn: PQConnection
                if let existing = connections[key], existing.isAlive { conn = existing } else {
                    conn = try PQConnection(conninfo: c.url, password: table.password, connectTimeout: max(1, Int(c.connectTimeout.seconds)),
                                            ioTimeout: c.timeout.seconds)
                    connections[key] = conn
                }
                outcome = try maintain(c, premake: premake, today: today, conn)
            } catch {
                outcome = .failed(error.description)
            }
            let report = PartitionMaintenanceReport(table: table.displayName, pipeline: table.pipeline, outcome: outcome)
            switch outcome {
            case .failed: logger.error("\(report)")
            case let .ready(created, _) where !created.isEmpty: logger.info("\(report)")
            default: logger.debug("\(report)")
            }
            reports.append(report)
        }
        return reports
    }

    private func maintain(_ c: PostgresConfiguration, premake: Int?, today: Int, _ conn: PQConnection) throws(PQError) -> PartitionMaintenanceReport.Outcome {
        guard let p = c.partition else { return .ready(created: [], existing: 0) }
        let info = try conn.exec("""
            SELECT (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $3 AND NOT a.attisdropped),
                   EXISTS (SELECT 1 FROM pg_partitioned_table pt WHERE pt.partrelid = c.oid)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2
            """, [c.schema, c.table, p.column])
        guard let row = info.first else { return .tableMissing }
        guard row[1] == "t" else {
            throw PQError(sqlState: "", message: "the table exists but is not partitioned (drop it, or remove partition from the pipeline)", connectionLost: false)
        }
        let columnType = row[0] ?? ""
        guard columnType == "date" || columnType.hasPrefix("timestamp") else {
            throw PQError(sqlState: "", message: "partition column '\(p.column)' is \(columnType.isEmpty ? "missing" : columnType), not a date or timestamp", connectionLost: false)
        }
        let plan = PartitionPlan(interval: p.interval)
        let existing = Set(try conn.exec("""
            SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
            JOIN pg_class t ON t.oid = i.inhparent JOIN pg_namespace n ON n.oid = t.relnamespace
            WHERE n.nspname = $1 AND t.relname = $2
            """, [c.schema, c.table]).compactMap { $0.first ?? nil })
        var created: [String] = []
        var present = 0
        for start in plan.startsAhead(today: today, premake: premake ?? p.premake) {
            let name = plan.name(table: c.table, start: start)
            if existing.contains(name) { present += 1; continue }
            do throws(PQError) {
                try conn.exec(plan.createStatement(schema: c.schema, table: c.table, start: start, timestampColumn: columnType != "date"))
                created.append(name)
            } catch {
                // A pipeline's sink made it at the same moment.
                guard error.sqlState == "42P07" || error.sqlState == "23505" else { throw error }
                present += 1
            }
        }
        return .ready(created: created, existing: present)
    }
}
