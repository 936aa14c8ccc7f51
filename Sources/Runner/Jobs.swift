import ArgumentParser
import ConnectorKit
import Connectors
import Foundation
import Logging
import PipelineLoader
import ServiceLifecycle

/// Runs a job file once against the directory's pipelines.
func runJob(_ job: JobDefinition, pipelines: [PipelineDefinition], stateDirectory: String, logger: Logger) async throws -> JobReport {
    let built = try job.build(stateDirectory: stateDirectory, logger: logger)
    let context = JobContext(job: job.name, pipelines: pipelines.map { $0.summary(stateDirectory: stateDirectory, logger: logger) },
                             stateDirectory: stateDirectory, logger: logger)
    return try await built.run(context: context)
}

/// A job on its schedule in the daemon; a failed run is retried with backoff (at most
/// `retry_max_delay` apart) before the next scheduled time.
struct JobService: Service {
    let job: JobDefinition
    let pipelines: [PipelineDefinition]
    let stateDirectory: String
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
                    let report = try await runJob(job, pipelines: pipelines, stateDirectory: stateDirectory, logger: logger)
                    failures = report.failed ? failures + 1 : 0
                    for line in report.lines where line.outcome == .failed { logger.error("\(line)") }
                    logger.debug("job run finished", metadata: ["failed": "\(report.lines.filter { $0.outcome == .failed }.count)"])
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
