import ArgumentParser
import ConnectorKit
import Connectors
import Foundation
import Logging
import PipelineLoader
import ServiceLifecycle

/// Runs a job file once. Returns one line per table; throws when any of them failed.
func runJob(_ job: JobDefinition, pipelines: [PipelineDefinition], logger: Logger) async throws -> [PartitionMaintenanceReport] {
    let tables = try job.tables(among: pipelines)
    let reports = await PostgresPartitionMaintainer(logger: logger).run(tables, premake: job.configuration.premake)
    return reports
}

/// A job on its schedule in the daemon; a failed run is retried with backoff (at most 5 minutes
/// apart) before the next scheduled time.
struct JobService: Service {
    let job: JobDefinition
    let pipelines: [PipelineDefinition]
    let logger: Logger

    func run() async throws {
        let stop = StopToken()
        await withGracefulShutdownHandler {
            var lastEnded: Date?
            var failures = 0
            while !stop.isStopped {
                let delay = failures > 0 ? min(job.settings.retryMaxDelay.seconds, pow(2, Double(min(failures, 9)))) : job.settings.schedule.delay(now: Date(), lastRunEnded: lastEnded)
                guard let delay else { return }
                if delay > 0 { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(delay)) } }
                if stop.isStopped { break }
                do {
                    let reports = try await runJob(job, pipelines: pipelines, logger: logger)
                    let failed = reports.filter { if case .failed = $0.outcome { true } else { false } }
                    failures = failed.isEmpty ? 0 : failures + 1
                    logger.debug("job run finished", metadata: ["failed_tables": "\(failed.count)"])
                } catch {
                    failures += 1
                    logger.error("job failed: \(error)")
                }
                lastEnded = Date()
            }
        } onGracefulShutdown: {
            stop.stop()
        }
    }
}
