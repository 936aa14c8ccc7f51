/// Every metric the daemon exports, with its Prometheus help text. swift-metrics has no help
/// text, and swift-prometheus requires one help text per name, so it is looked up here by name
/// (`promtool check metrics` wants a `# HELP` on every metric).
public enum MetricCatalog {
    public static let help: [String: String] = [
        // Counted in ConnectorKit where the work happens (PipelineMetrics).
        "sluice_bytes_read_total": "Bytes read from source files.",
        "sluice_records_read_total": "Records decoded from the sources.",
        "sluice_records_written_total": "Records committed to the sink.",
        "sluice_records_rolled_back_total": "Records sent in an attempt that failed before its commit (loaded again later).",
        "sluice_dead_letters_total": "Bad records committed to the dead-letter output.",
        "sluice_commits_total": "Checkpoints committed with the sink's data.",
        "sluice_retries_total": "Attempts repeated after a lost connection.",
        "sluice_replays_total": "Attempts read again at once from the last commit because the sink rolled them back to find a refused record.",
        "sluice_files_opened_total": "Source files opened with new data.",
        "sluice_files_restarted_total": "Source files read again from the start because their content before the saved position changed.",
        "sluice_file_errors_total": "Source files that could not be read or whose after-load action failed.",
        // Counted by the scheduler and the reloader (SluiceRuntime).
        "sluice_run_duration_seconds": "How long runs of a pipeline or job took.",
        "sluice_runs_total": "Finished runs of a pipeline or job, by outcome.",
        "sluice_reloads_total": "Reloads of the pipeline files (SIGHUP or sluice reload), by result.",
        // Read from the status at each scrape (StatusMetrics).
        "sluice_pipeline_state": "1 for the state a pipeline or job is in (waiting, running, elsewhere — on another daemon of the cluster —, failing, degraded, stopped), else 0.",
        "sluice_last_success_timestamp_seconds": "When the last successful run of a pipeline or job ended (Unix time).",
        "sluice_consecutive_failures": "Failed runs in a row of a pipeline or job.",
        "sluice_lag_seconds": "Age of the newest loaded data: now minus the modification time of the newest source file a run loaded from.",
        "sluice_newest_data_timestamp_seconds": "Modification time of the newest source file loaded from (Unix time).",
        "sluice_last_reload_success": "1 when the last load of the pipeline files had no error, else 0.",
        "sluice_last_reload_timestamp_seconds": "When the pipeline files were last loaded (Unix time).",
        "sluice_scheduled": "Pipelines and jobs scheduled by the daemon.",
        "sluice_draining": "1 while the daemon finishes its current runs before exiting, else 0.",
    ]

    /// Buckets of the run duration histogram: polls take milliseconds, catch-up loads minutes.
    public static let runDurationBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60), .seconds(120),
        .seconds(300), .seconds(600), .seconds(1800), .seconds(3600),
    ]

    static func helpText(_ name: String) -> String { help[name] ?? String(name.map { $0 == "_" ? " " : $0 }) }
}
