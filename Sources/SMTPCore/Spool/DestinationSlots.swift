/// At most `limit` deliveries at once to one mail exchanger address (Postfix's
/// `default_destination_concurrency_limit`, per host rather than per domain): the outbound stage
/// never opens more than that many sessions to one remote server, however many recipient domains
/// point at it. Waiters are served in arrival order.
///
/// Every ``acquire(_:)`` is paired with one ``release(_:)`` by ``SpoolRunner``; a delivery holds
/// one slot at a time, so with the runner's bounded number of deliveries no wait can deadlock.
actor DestinationSlots {
    let limit: Int
    private var busy: [String: Int] = [:]
    private var waiting: [String: [CheckedContinuation<Void, Never>]] = [:]
    /// The most slots held at once per key since start (for tests and `queue` output).
    private(set) var peak: [String: Int] = [:]

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func acquire(_ key: String) async {
        if busy[key, default: 0] < limit {
            take(key)
            return
        }
        await withCheckedContinuation { continuation in waiting[key, default: []].append(continuation) }
    }

    func release(_ key: String) {
        if var queue = waiting[key], !queue.isEmpty {
            // The slot passes straight to the next waiter: `busy` stays the same.
            let next = queue.removeFirst()
            waiting[key] = queue.isEmpty ? nil : queue
            next.resume()
            return
        }
        busy[key, default: 1] -= 1
        if busy[key] == 0 { busy[key] = nil }
    }

    private func take(_ key: String) {
        busy[key, default: 0] += 1
        peak[key] = max(peak[key] ?? 0, busy[key]!)
    }
}
