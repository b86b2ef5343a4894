import Testing

@testable import Defenses

@Suite("clamd replies and endpoints")
struct ClamdReplyTests {
    let endpoint = ClamdEndpoint.tcp(host: "127.0.0.1", port: 3310)

    @Test func replies() {
        #expect(ClamdReply.scanResult("stream: OK", endpoint: endpoint) == .clean)
        #expect(ClamdReply.scanResult("stream: Win.Test.EICAR_HDB-1 FOUND", endpoint: endpoint)
            == .infected(signature: "Win.Test.EICAR_HDB-1"))
        #expect(ClamdReply.scanResult("1: stream: Eicar-Test-Signature.UNOFFICIAL FOUND\n", endpoint: endpoint)
            == .infected(signature: "Eicar-Test-Signature.UNOFFICIAL"))
        #expect(ClamdReply.scanResult("INSTREAM size limit exceeded. ERROR", endpoint: endpoint)
            == .error(.sizeLimitExceeded(limit: nil)))
        #expect(ClamdReply.scanResult("stream: Can't allocate memory ERROR", endpoint: endpoint)
            == .error(.scannerError(endpoint: "127.0.0.1:3310", reply: "stream: Can't allocate memory ERROR")))
        #expect(ClamdReply.scanResult("UNKNOWN COMMAND", endpoint: endpoint)
            == .error(.scannerError(endpoint: "127.0.0.1:3310", reply: "UNKNOWN COMMAND")))
        #expect(ClamdReply.scanResult("stream:  FOUND", endpoint: endpoint)
            == .error(.scannerError(endpoint: "127.0.0.1:3310", reply: "stream:  FOUND")))
    }

    @Test func endpoints() {
        #expect(ClamdEndpoint("127.0.0.1:3310") == .tcp(host: "127.0.0.1", port: 3310))
        #expect(ClamdEndpoint("[::1]:3310") == .tcp(host: "::1", port: 3310))
        #expect(ClamdEndpoint("unix:/run/clamav/clamd.ctl") == .unixSocket(path: "/run/clamav/clamd.ctl"))
        #expect(ClamdEndpoint("/run/clamav/clamd.ctl") == .unixSocket(path: "/run/clamav/clamd.ctl"))
        #expect(ClamdEndpoint("localhost") == nil)
        #expect(ClamdEndpoint("host:0") == nil)
        #expect(ClamdEndpoint("::1:3310") == nil)
        #expect(ClamdEndpoint.tcp(host: "::1", port: 3310).description == "[::1]:3310")
    }

    @Test func failedInstancesGoLast() async {
        let a = ClamdEndpoint.tcp(host: "a", port: 1), b = ClamdEndpoint.tcp(host: "b", port: 1)
        let health = ClamdHealth(retryAfter: .seconds(30))
        let start = ContinuousClock.now
        await health.failed(a, now: start)
        #expect(await health.ordered([a, b], now: start + .seconds(1)) == [b, a])
        #expect(await health.ordered([a, b], now: start + .seconds(31)) == [a, b])
        await health.succeeded(a)
        #expect(await health.ordered([a, b], now: start + .seconds(1)) == [a, b])
    }
}
