/**
 * Which changes of a connection's health are worth telling someone about, each once:
 * it needs a new login; its refreshes keep failing (after `failureThreshold` in a row);
 * it recovered from either. The daemon sends them as webhooks.
 */
import { needsLogin, type ViewedConnection } from './connection-view.js';

/** Where the alerts go. Payloads carry names and codes, never a secret. */
export interface AlertListener {
  reauthRequired(connection: ViewedConnection): void;
  refreshFailed(connection: ViewedConnection, error: { code: string; message: string }): void;
  recovered(connection: ViewedConnection): void;
}

export class Alerts {
  constructor(
    private readonly listener: AlertListener,
    private readonly failureThreshold: number,
  ) {}

  /** A new view of the connection was read from the store. */
  observed(view: ViewedConnection, previous: ViewedConnection | undefined): void {
    if (needsLogin(view)) {
      if (view.alerted !== 'reauth_required') {
        view.alerted = 'reauth_required';
        this.listener.reauthRequired(view);
      }
      return;
    }
    // A login fixed it, or someone else's refresh succeeded where ours kept failing.
    const renewed = previous !== undefined && view.obtainedAt !== previous.obtainedAt;
    if (view.alerted === 'reauth_required' || (view.alerted === 'failing' && renewed)) {
      this.#recovered(view);
    }
  }

  /** This daemon's refresh of the connection succeeded. */
  refreshed(view: ViewedConnection): void {
    if (view.alerted === 'failing') this.#recovered(view);
  }

  /** This daemon's refresh failed again; `view.failures` counts them. */
  failed(view: ViewedConnection, error: { code: string; message: string }): void {
    if (view.failures < this.failureThreshold || view.alerted !== 'none') return;
    view.alerted = 'failing';
    this.listener.refreshFailed(view, error);
  }

  #recovered(view: ViewedConnection): void {
    view.alerted = 'none';
    this.listener.recovered(view);
  }
}
