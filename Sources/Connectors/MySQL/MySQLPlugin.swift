import ConnectorKit

extension PluginDescriptor {
    /// The `mysql` sink.
    public static let mysql: PluginDescriptor = .sink("mysql", MySQLConfiguration.self,
                                                      summary: "MySQL or MariaDB: multi-row INSERT, upsert, exactly-once with the checkpoint in the same transaction") { c, ctx in
        MySQLSink(configuration: c, password: try c.resolvedPassword(context: ctx), logger: ctx.logger)
    }
}
