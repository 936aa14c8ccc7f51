import ArgumentParser

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "Moves machine logs (CSV, TXT) from factory PCs into PostgreSQL, Parquet and files.",
        version: "0.1.0",
        subcommands: [Validate.self, ListPipelines.self, Once.self, Run.self, Sample.self, Simulate.self])
}
