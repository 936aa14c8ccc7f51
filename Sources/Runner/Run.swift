import ArgumentParser
import ConnectorKit
import Foundation
import Logging
import PipelineLoader
import ServiceLifecycle
import SluiceRuntime

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run every scheduled pipeline as a daemon (SIGTERM finishes the current batch, commits and exits 0).")

    @OptionGroup var config: ConfigOptions
    @OptionGroup var options: RunOptions

    @Option(name: .customLong("max-concurrent-runs"), help: "Pipelines and jobs running at the same time, at most.")
    var maxConcurrentRuns = 4

    func run() async throws {
        let logger = options.makeLogger()
        let (pipelines, jobs, errors, dir) = loadPipelines(config)
        for e in errors { logger.error("invalid pipeline file, not started: \(e)") }
        let stateDir = options.resolvedStateDirectory
        let works = DaemonWorks.build(pipelines: pipelines, jobs: jobs, stateDirectory: stateDir, logger: logger)
        if works.isEmpty {
            printError("error: no scheduled pipeline or job in \(dir)")
            throw ExitCode(1)
        }
        let scheduler = Scheduler(maxConcurrentRuns: maxConcurrentRuns, stateDirectory: stateDir, logger: logger)
        logger.info("sluice started", metadata: ["pipelines": "\(works.filter { $0.work.kind == .pipeline }.map(\.work.name).joined(separator: ","))",
                                                 "jobs": "\(works.filter { $0.work.kind == .job }.map(\.work.name).joined(separator: ","))", "state_dir": "\(stateDir)"])
        let group = ServiceGroup(configuration: .init(services: [.init(service: SchedulerService(scheduler: scheduler, works: works))],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("sluice stopped")
    }
}

/// The scheduler as a lifecycle service: graceful shutdown lets every current run finish its
/// batch and commit, then returns.
struct SchedulerService: Service {
    let scheduler: Scheduler
    let works: [(work: any ScheduledWork, fingerprint: String)]

    func run() async throws {
        await scheduler.apply(works)
        try? await gracefulShutdown()
        await scheduler.stopAll()
    }
}

/// The pipelines and jobs of a connectors.d the daemon schedules. A pipeline that fails to build
/// is reported and left out; the others start.
enum DaemonWorks {
    static func build(pipelines: [PipelineDefinition], jobs: [JobDefinition], stateDirectory: String, logger: Logger) -> [(work: any ScheduledWork, fingerprint: String)] {
        var works: [(work: any ScheduledWork, fingerprint: String)] = []
        let names = Set(pipelines.map(\.name) + jobs.map(\.name))
        func scheduled(_ name: String, _ settings: PipelineSettings) -> Bool {
            if let unknown = settings.after.first(where: { !names.contains($0) }) {
                logger.error("not started: 'after' names '\(unknown)', which is no valid pipeline or job here", metadata: ["pipeline": "\(name)"])
                return false
            }
            return settings.schedule != .manual || !settings.after.isEmpty
        }
        for definition in pipelines where scheduled(definition.name, definition.settings) {
            do {
                let pipeline = try definition.build(stateDirectory: stateDirectory, logger: logger)
                works.append((PipelineWork(definition: definition, pipeline: pipeline, stateDirectory: stateDirectory, logger: logger), fingerprint(definition.file)))
            } catch {
                logger.error("not started: \(error)", metadata: ["pipeline": "\(definition.name)"])
            }
        }
        for job in jobs where scheduled(job.name, job.settings) {
            works.append((JobWork(job: job, pipelines: pipelines, stateDirectory: stateDirectory, logger: logger), fingerprint(job.file)))
        }
        return works
    }

    /// The file's content: a changed file is a changed work.
    static func fingerprint(_ file: String) -> String {
        (try? String(contentsOfFile: file, encoding: .utf8)) ?? file
    }
}
