import Foundation

/// `bench smb`: the SMB3 Samba server of scripts/smb-start.sh, against `smbclient -c 'get …'`.
func smbBenchmark(sizeMiB: Int, runs: Int, sluice: String) throws {
    let base = ProcessInfo.processInfo.environment["SLUICE_SMB_DIR"] ?? "/tmp/sluice-test-smb"
    let folder = "sluice-bench"
    let secrets = NSTemporaryDirectory() + "sluice-bench-smb-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    defer { try? FileManager.default.removeItem(atPath: secrets) }
    try "username = sluicetest\npassword = testpw\n".write(toFile: "\(secrets)/auth", atomically: true, encoding: .utf8)
    try "testpw\n".write(toFile: "\(secrets)/password", atomically: true, encoding: .utf8)
    func source(_ encryption: String) -> String {
        """
        type = "smb"
        url = "smb://127.0.0.1:4453/logs/\(folder)"
        username = "sluicetest"
        password_file = "\(secrets)/password"
        encryption = "\(encryption)"
        """
    }
    func smbclient(_ protection: String) -> (String, String, [String]) {
        ("smbclient get --client-protection=\(protection)", "/usr/bin/smbclient",
         ["//127.0.0.1/logs", "-p", "4453", "-A", "\(secrets)/auth", "--client-protection=\(protection)", "-c", "get \(folder)/big.csv /dev/null"])
    }
    try RemotePullBenchmark(
        name: "smb", sluice: sluice, localFolder: "\(base)/smb3/logs/\(folder)",
        comparisons: [
            .init(label: "encrypted (Sluice's default, encryption = \"auto\": SMB3 AES)", source: source("auto"), reference: smbclient("encrypt")),
            .init(label: "unencrypted (encryption = \"off\"; smbclient's default)", source: source("off"), reference: smbclient("off")),
        ],
        sizeMiB: sizeMiB, runs: runs
    ).run()
}
