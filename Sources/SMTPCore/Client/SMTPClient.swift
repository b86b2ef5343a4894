import Logging
import NIOCore
import NIOPosix

/// One-shot delivery: connect, send one message, QUIT.
///
/// For several messages to one server, keep an ``SMTPClientConnection`` and call
/// ``SMTPClientConnection/send(envelope:message:size:)`` repeatedly (RSET goes between).
public enum SMTPClient {
    /// Delivers one streamed message. Never throws: a failure to connect or to set up the
    /// session (greeting, EHLO, TLS, AUTH) fails every recipient with the same classified error.
    public static func deliver<Message: AsyncSequence & Sendable>(
        envelope: OutboundEnvelope,
        message: Message,
        size: Int?,
        host: String,
        port: Int = 25,
        configuration: SMTPClientConfiguration = SMTPClientConfiguration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mailnode.smtp.client")
    ) async -> DeliveryResult where Message.Element == ByteBuffer {
        let connection: SMTPClientConnection
        do {
            connection = try await SMTPClientConnection.connect(
                host: host, port: port, configuration: configuration, group: group, logger: logger)
        } catch {
            return .failed(error, recipients: envelope.recipients.map(\.path))
        }
        let result = await connection.send(envelope: envelope, message: message, size: size)
        // The outcome is decided; a failing QUIT changes nothing (RFC 5321 §4.1.1.10).
        try? await connection.quit()
        return result
    }

    /// Delivers one message held in a single buffer.
    public static func deliver(
        envelope: OutboundEnvelope,
        message: ByteBuffer,
        host: String,
        port: Int = 25,
        configuration: SMTPClientConfiguration = SMTPClientConfiguration(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "mailnode.smtp.client")
    ) async -> DeliveryResult {
        await deliver(envelope: envelope,
                      message: SingleBufferMessage(message, sliceSize: configuration.chunkSize),
                      size: message.readableBytes, host: host, port: port,
                      configuration: configuration, group: group, logger: logger)
    }
}
