import Foundation

/// `bench sftp`: the sshd of scripts/ssh-start.sh (127.0.0.1:2222), against OpenSSH's `sftp` get.
func sftpBenchmark(sizeMiB: Int, runs: Int, sluice: String) throws {
    let base = ProcessInfo.processInfo.environment["SLUICE_SSH_DIR"] ?? "/tmp/sluice-test-ssh"
    let folder = "\(base)/data/sluice-bench"
    let source = """
        type = "sftp"
        url = "sftp://sluicetest@127.0.0.1:2222\(folder)"
        private_key = "\(base)/client/id_ed25519"
        known_hosts = "\(base)/client/known_hosts"
        """
    let batch = NSTemporaryDirectory() + "sluice-bench-sftp-batch"
    try "get \(folder)/big.csv /dev/null\n".write(toFile: batch, atomically: true, encoding: .utf8)
    defer { try? FileManager.default.removeItem(atPath: batch) }
    func sftp(_ label: String, _ options: [String]) -> (String, String, [String]) {
        (label, "/usr/bin/sftp", ["-q", "-b", batch, "-P", "2222", "-i", "\(base)/client/id_ed25519",
                                  "-o", "UserKnownHostsFile=\(base)/client/known_hosts", "-o", "BatchMode=yes"] + options + ["sluicetest@127.0.0.1"])
    }
    try RemotePullBenchmark(
        name: "sftp", sluice: sluice, localFolder: folder,
        comparisons: [
            .init(label: "OpenSSH sftp with its defaults (chacha20-poly1305)", source: source, reference: sftp("sftp get", [])),
            .init(label: "same cipher and MAC as libssh2 negotiates (aes128-ctr, hmac-sha2-256)", source: source,
                  reference: sftp("sftp get -c aes128-ctr", ["-o", "Ciphers=aes128-ctr", "-o", "MACs=hmac-sha2-256"])),
        ],
        sizeMiB: sizeMiB, runs: runs
    ).run()
}
