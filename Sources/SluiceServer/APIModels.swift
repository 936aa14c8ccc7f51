import Foundation
import SluiceRuntime

/// `/api/pipelines`: one entry per scheduled pipeline or job.
struct PipelineSummaryJSON: Encodable {
    var name: String
    /// For one host of a multi-host pipeline: the pipeline and the host.
    var pipeline: String?
    var host: String?
    var kind: String
    var schedule: String
    var after: [String]
    var state: String
    /// The daemon running it when `state` is `elsewhere`.
    var runningOn: String?
    var nextRun: Date?
    var lastSuccess: Date?
    var consecutiveFailures: Int
    var lastRun: RunJSON?
    var lastError: String?
    var newestData: Date?
    var lagSeconds: Double?
    var totalRecords: Int64
    var totalDeadLetters: Int64
    /// The most recent runs, oldest first, for the history strip.
    var history: [RunJSON]

    init(_ s: WorkStatus, now: Date, historyLength: Int = 30) {
        name = s.name
        pipeline = s.group
        host = s.host
        kind = s.kind.rawValue
        schedule = s.schedule
        after = s.after
        state = s.state.rawValue
        runningOn = s.runningOn
        nextRun = s.nextRun
        lastSuccess = s.lastSuccess
        consecutiveFailures = s.consecutiveFailures
        lastRun = s.lastRun.map(RunJSON.init)
        lastError = s.lastError
        newestData = s.newestData
        lagSeconds = s.lag(now: now).map { ($0 * 10).rounded() / 10 }
        totalRecords = s.totalRecords
        totalDeadLetters = s.totalDeadLetters
        history = s.runs.suffix(historyLength).map(RunJSON.init)
    }
}

struct RunJSON: Encodable {
    var started: Date
    var ended: Date
    var seconds: Double
    var succeeded: Bool
    var records: Int64
    var deadLetters: Int64
    var bytes: Int64
    var error: String?

    init(_ r: RunRecord) {
        started = r.started
        ended = r.ended
        seconds = (r.seconds * 1000).rounded() / 1000
        succeeded = r.succeeded
        records = r.records
        deadLetters = r.deadLetters
        bytes = r.bytes
        error = r.error
    }
}

struct PipelineListJSON: Encodable {
    var now: Date
    var started: Date
    var draining: Bool
    var lastReload: ReloadJSON?
    var pipelines: [PipelineSummaryJSON]
}

struct ReloadJSON: Encodable {
    var number: Int
    var date: Date
    var summary: String
    var errors: [String]
    init(_ r: ReloadResult) {
        number = r.number
        date = r.date
        summary = r.number == 0 ? (r.errors.isEmpty ? "loaded at start" : "loaded at start with \(r.errors.count) error(s)") : r.summary
        errors = r.errors
    }
}

struct RunsJSON: Encodable {
    var name: String
    var runs: [RunJSON]
}

struct ReadyJSON: Encodable {
    var ready: Bool
    var reasons: [NotReadyReason]
}

struct HealthJSON: Encodable {
    var status: String
    var uptimeSeconds: Int
}

enum APIJSON {
    static func encode(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        guard let data = try? encoder.encode(value) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}
