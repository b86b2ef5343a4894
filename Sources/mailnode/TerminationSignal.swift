import Dispatch
import NIOConcurrencyHelpers
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGTERM or SIGINT, the start of a graceful shutdown.
enum TerminationSignal {
    static func wait() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let resumed = NIOLockedValueBox(false)
            let queue = DispatchQueue(label: "mailnode.signals")
            var sources: [any DispatchSourceSignal] = []
            for number in [SIGTERM, SIGINT] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    let first = resumed.withLockedValue { value -> Bool in
                        defer { value = true }
                        return !value
                    }
                    if first { continuation.resume(returning: number) }
                }
                source.resume()
                sources.append(source)
            }
            // The sources must live as long as the process waits; the process ends after the
            // signal, so they are deliberately never released.
            _ = Unmanaged.passRetained(sources as AnyObject)
        }
    }
}
