import NIOPosix

/// The thread pool of the IMAP and store-operation tests. Their many fsyncs (every append, flag
/// change and delivery) must not queue in front of the spool writes of the live SMTP suites on
/// `NIOThreadPool.singleton`, which has one thread per core (two on CI).
enum IMAPTestThreads {
    static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: 2)
        pool.start()
        return pool
    }()
}
