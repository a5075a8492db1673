// Server counters in the Prometheus text exposition format (version 0.0.4), written by hand: a few
// counters, gauges and one latency histogram do not need a client library.
import type { ErrorCode } from './protocol.js';

/** Upper bounds (seconds) of the frame-latency histogram buckets. */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Point-in-time values the host supplies when the metrics are scraped. */
export interface MetricsGauges {
  sessions: number;
  gpuQueueDepth: number;
  gpuPoolLiveBytes: number;
  gpuPoolCachedBytes: number;
  residentBytes: number;
}

export class ServeMetrics {
  sessionsTotal = 0;
  framesReceived = 0;
  framesProcessed = 0;
  framesDropped = 0;
  segmentRequests = 0;
  readonly errors = new Map<ErrorCode, number>();
  private readonly buckets = new Array<number>(LATENCY_BUCKETS.length).fill(0);
  private latencyCount = 0;
  private latencySum = 0;

  error(code: ErrorCode): void {
    this.errors.set(code, (this.errors.get(code) ?? 0) + 1);
  }

  /** A frame's server-side latency: from its arrival to its result being sent. */
  observeLatency(seconds: number): void {
    this.latencyCount++;
    this.latencySum += seconds;
    LATENCY_BUCKETS.forEach((le, i) => {
      if (seconds <= le) this.buckets[i]++;
    });
  }

  render(g: MetricsGauges): string {
    const lines: string[] = [];
    const metric = (name: string, type: string, help: string, samples: Array<[string, number]>) => {
      lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
      for (const [labels, v] of samples) lines.push(`${name}${labels} ${v}`);
    };
    metric('robotseg_sessions', 'gauge', 'Open streaming sessions.', [['', g.sessions]]);
    metric('robotseg_sessions_total', 'counter', 'Streaming sessions started.', [['', this.sessionsTotal]]);
    metric('robotseg_frames_received_total', 'counter', 'Frames received on all sessions.', [
      ['', this.framesReceived],
    ]);
    metric('robotseg_frames_processed_total', 'counter', 'Frames segmented (a result was sent).', [
      ['', this.framesProcessed],
    ]);
    metric('robotseg_frames_dropped_total', 'counter', 'Frames dropped because a newer frame arrived first.', [
      ['', this.framesDropped],
    ]);
    metric('robotseg_segment_requests_total', 'counter', 'POST /v1/segment requests answered with masks.', [
      ['', this.segmentRequests],
    ]);
    metric(
      'robotseg_errors_total',
      'counter',
      'Errors sent to clients, by code.',
      [...this.errors].sort().map(([code, n]) => [`{code="${code}"}`, n]),
    );
    lines.push(
      '# HELP robotseg_frame_latency_seconds Frame arrival to result sent (decode, GPU queue, GPU, encode).',
      '# TYPE robotseg_frame_latency_seconds histogram',
    );
    LATENCY_BUCKETS.forEach((le, i) =>
      lines.push(`robotseg_frame_latency_seconds_bucket{le="${le}"} ${this.buckets[i]}`),
    );
    lines.push(
      `robotseg_frame_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `robotseg_frame_latency_seconds_sum ${this.latencySum}`,
      `robotseg_frame_latency_seconds_count ${this.latencyCount}`,
    );
    metric('robotseg_gpu_queue_depth', 'gauge', 'GPU jobs queued or running.', [['', g.gpuQueueDepth]]);
    metric('robotseg_gpu_pool_live_bytes', 'gauge', 'GPU buffer-pool bytes held by live tensors.', [
      ['', g.gpuPoolLiveBytes],
    ]);
    metric('robotseg_gpu_pool_cached_bytes', 'gauge', 'GPU buffer-pool bytes kept free for reuse.', [
      ['', g.gpuPoolCachedBytes],
    ]);
    metric('process_resident_memory_bytes', 'gauge', 'Resident set size of the server process.', [
      ['', g.residentBytes],
    ]);
    return `${lines.join('\n')}\n`;
  }
}
