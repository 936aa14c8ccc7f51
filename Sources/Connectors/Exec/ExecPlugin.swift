import ConnectorKit

extension PluginDescriptor {
    /// The `exec` source: records from a program that speaks the JSON-lines protocol.
    public static let execSource: PluginDescriptor = .source("exec", ExecConfiguration.self,
                                                             summary: "Records from a program (any language) speaking JSON lines; resumes from its cursor",
                                                             producesBytes: false) { c, ctx in
        ExecSource(c, directory: ctx.baseDirectory)
    }

    /// The `exec` sink: records to a program that commits them with the checkpoint.
    public static let execSink: PluginDescriptor = .sink("exec", ExecConfiguration.self,
                                                         summary: "Records to a program (any language) speaking JSON lines; it keeps the checkpoint") { c, ctx in
        ExecSink(c, directory: ctx.baseDirectory, pipeline: ctx.pipeline)
    }
}
