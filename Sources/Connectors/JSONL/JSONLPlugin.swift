import ConnectorKit

/// How the pipeline loader finds this folder's plugins: `BuiltinPlugins` lists it, and a
/// package building its own registry can pick it alone.
extension PluginDescriptor {
    /// The `jsonl` sink.
    public static let jsonl: PluginDescriptor = .sink("jsonl", JSONLConfiguration.self, summary: "JSON lines to a file (exactly-once) or standard output") { c, ctx in JSONLSink(path: ctx.resolve(c.path)) }

    /// The `discard` sink.
    public static let discard: PluginDescriptor = .sink("discard", DiscardConfiguration.self, summary: "Discards records (benchmarks, dry runs)") { _, _ in DiscardSink() }
}
