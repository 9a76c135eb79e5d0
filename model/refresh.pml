/*
 * The refresh protocol of tokenkeeper, as implemented, for the spin model checker.
 * `npm run model` (scripts/model-check.mjs) checks every property and every broken variant;
 * docs/design.md ("The refresh protocol, model-checked") explains the bounds and the results.
 *
 * One connection in one shared store, used by three processes:
 *   process 1: two callers of keeper.getAccessToken (single-flight: one leads, one joins);
 *   process 2: one caller of keeper.getAccessToken;
 *   process 3: the user: `tokenkeeper logout`, then `tokenkeeper login` again.
 * When they are all done (finished or crashed), a fresh process runs `tokenkeeper refresh`:
 * the next refresh, which must find the connection usable, gone, or saying it needs a login.
 *
 * Tokens are numbered in the order the provider issues them, so a larger number is a token
 * obtained later (the `obtainedAt` order the refresher compares). Token 1 is the stale token
 * every process starts with; every later token is fresh for the length of a run.
 *
 * Faults, within small budgets, at any point of any run:
 *   - a crash of any process before any of its steps (crash_point; CRASHES);
 *   - a working lease holder paused past its lease, so that the lease runs out
 *     (proctype Environment; PAUSES);
 *   - the lost reply of a store command whose effect did happen (reply; LOST_REPLIES);
 * and a lease runs out once nobody renews it: its holder crashed, or a lost reply orphaned it
 * (proctype Environment). The next refresh runs without faults: it observes what is left.
 *
 * Broken variants, one safeguard removed each (compile with -D):
 *   NO_FENCE      store.put and store.delete ignore the fence (the writer's lease);
 *   NO_REREAD     Refresher.refresh does not read the store again after taking the lock;
 *   NO_GEN_CHECK  Refresher.#persist does not compare generations after a refused write;
 *   NO_RENEW      holdLease does not renew the lease while its holder works;
 *   NO_DELETE_FENCE  store.delete ignores the fence (the code before the model found this:
 *                 a logout paused past its lease deleted what its successor saved);
 *   NO_EXPIRY     a lock left behind (its holder crashed, or a reply was lost) never runs out:
 *                 the broken variant of the liveness property.
 *
 * Properties, each compiled in on its own so that each is its own check (-D):
 *   PROP_ONE_WRITER        never two writers in one lease period;
 *   PROP_NO_LOST_TOKEN     a rotated refresh token is never lost unreported;
 *   PROP_NOT_UNDONE        neither a logout nor a newer login is ever undone;
 *   PROP_NO_INVALID_GRANT  without a crash or a lost lease, the provider never answers invalid_grant;
 *   ltl no_wait_forever    every process ends (run with weak fairness: pan -a -f).
 * Single-flight and "no process is stuck" (invalid end states in pan) are checked in every run.
 */

#ifndef CRASHES
#define CRASHES 1
#endif
#ifndef PAUSES
#define PAUSES 1
#endif
#ifndef LOST_REPLIES
#define LOST_REPLIES 1
#endif
/* settings.save.attempts is 4; three attempts outlast the faults of the budgets (a lost reply and a lost lease). */
#ifndef SAVE_ATTEMPTS
#define SAVE_ATTEMPTS 3
#endif

#define P_FIRST 1      /* process 1: two callers */
#define P_SECOND 2     /* process 2: one caller */
#define USER 3         /* process 3: logout, then login */
#define NEXT 4         /* the next refresh, after everyone is done */
#define ACTORS 4       /* the proctypes that must finish: 2 + 1 callers and the user */

#define STALE 1        /* the token everyone holds at the start */
#define FRESH(t) ((t) != STALE && (t) != 0)
#define BIT(t) (1 << (t))
#define LIVE(t) ((live_refresh_tokens & BIT(t)) != 0)

mtype = { R_NONE, R_OURS, R_ADOPTED, R_NOT_FOUND, R_REAUTH, R_STORE_ERROR };

/* ---- the store: one row and its lock (src/store/types.ts; src/store/sqlite-store.ts) ---- */
bool row_exists = true;
byte row_version = 1;      /* never restarts: a deleted name keeps its version (retired_versions) */
byte row_generation = 1;   /* ConnectionRecord.generation: one per login */
byte row_token = STALE;    /* the access + refresh token pair stored */
bool row_reauth = false;   /* state: reauth_required */
byte lock_owner = 0;       /* 0: nobody; else the owner token of a process (one lease at a time each) */
bool lock_live = false;    /* the lease has not run out (the backend's own clock) */

/* ---- the provider: strict rotation (src/emulators/core/token-authority.ts) ---- */
int live_refresh_tokens = BIT(STALE);  /* a used refresh token is revoked; reuse is invalid_grant */
byte next_token = 2;

/* ---- the processes ---- */
byte held[5];              /* the token a session holds (ConnectionSession.#token) */
byte flight[5];            /* ConnectionSession.#flight: 1 while a renewal runs */
bool renewed[5];           /* the renewal of process p has ended */
bool renewing[5];          /* the lease timer of holdLease runs for this process's lease */
bool crashed[5];
byte finished = 0;
bool relogin_possible;     /* the grant can log in unattended (Factus: saved password) or not (Factorial) */

/* ---- budgets of the environment, and ghost state for the properties ---- */
byte crashes = 0;
byte pauses = 0;
byte lost_replies = 0;
byte period_writer = 0;    /* who wrote during the current lease period (0: nobody yet) */
bool logged_out = false;   /* the user's logout deleted the row, and no login saved since */
byte user_generation = 1;  /* the generation of the user's latest login */
byte reported = 0;         /* failures that said what was lost: a refresh that failed closed
                              ("discarded and not used"), a logout fenced out after revoking */
bool faults_over = false;  /* the next refresh runs without faults: it observes what is left */
bool all_checked = false;

#ifdef NO_FENCE
#define FENCE_HOLDS(p) true
#else
#define FENCE_HOLDS(p) (lock_owner == (p) && lock_live)
#endif
/* The delete of a logout: fenced like a write (it was not, before the model found why it must be). */
#if defined(NO_FENCE) || defined(NO_DELETE_FENCE)
#define DELETE_FENCE_HOLDS(p) true
#else
#define DELETE_FENCE_HOLDS(p) FENCE_HOLDS(p)
#endif

/*
 * A crash of process p before its next step (the steps between two store commands or token
 * requests change nothing another process can see, so this is a crash at any step). Its
 * lock stays behind until the lease runs out; its callers get nothing.
 */
inline crash_point(p)
{
  if
  :: p != NEXT && crashes < CRASHES -> crashes++; crashed[p] = true; renewing[p] = false; goto died
  :: true
  fi
}

/* A store command whose effect happened, but whose reply may be lost on the way back. */
inline reply(lost)
{
  if
  :: !faults_over && lost_replies < LOST_REPLIES -> lost_replies++; lost = true
  :: true -> lost = false
  fi
}

/* TokenStore.tryLock(name, owner, ttl): free, run out, or already ours → ours, lease from now. */
inline try_lock(p, taken, lost)
{
  atomic {
    crash_point(p);
    if
    :: lock_owner == 0 || !lock_live || lock_owner == p ->
         if
         :: lock_owner != p || !lock_live -> period_writer = 0  /* a new lease period begins */
         :: else
         fi;
         lock_owner = p; lock_live = true; taken = true
    :: else -> taken = false
    fi;
    reply(lost);
    /* holdLease starts renewing only when the caller learns that it holds the lock; a holder
       taking its lock again in #persist keeps the timer of its lease running */
    renewing[p] = renewing[p] || (taken && !lost)
  }
}

/* TokenStore.unlock(name, owner): compare-and-delete; Lease.release stops the renewals first. */
inline unlock(p, lost)
{
  atomic {
    crash_point(p);
    renewing[p] = false;
    if
    :: lock_owner == p -> lock_owner = 0; lock_live = false
    :: else
    fi;
    reply(lost)  /* ignored by Lease.release: a lock left behind runs out, nobody renews it */
  }
}

/*
 * TokenStore.put(name, meta, sealed, expectedVersion, fence): compare-and-set on the
 * version, fenced by the writer's live lease, in one atomic step. `version` is 0 when refused.
 */
inline put(p, token, generation, reauth, expected, version, lost)
{
  atomic {
    crash_point(p);
    if
    :: FENCE_HOLDS(p) && ((row_exists && expected == row_version) || (!row_exists && expected == 0)) ->
#ifdef PROP_ONE_WRITER
         assert(period_writer == 0 || period_writer == p);
#endif
         period_writer = p;
#ifdef PROP_NOT_UNDONE
         /* a refresh writes neither into a logged-out name nor into another login's generation */
         assert(p == USER || (!logged_out && generation == user_generation));
#endif
         if
         :: p == USER -> logged_out = false; user_generation = generation
         :: else
         fi;
         row_exists = true; row_version++; row_generation = generation;
         row_token = token; row_reauth = reauth;
         version = row_version
    :: else -> version = 0
    fi;
    reply(lost)
  }
}

/* The provider's token endpoint, refresh_token grant (strict rotation). 0: invalid_grant. */
inline refresh_grant(p, refresh_token, got)
{
  atomic {
    crash_point(p);
    if
    :: LIVE(refresh_token) ->
         live_refresh_tokens = live_refresh_tokens & ~BIT(refresh_token);
         got = next_token; live_refresh_tokens = live_refresh_tokens | BIT(got); next_token++
    :: else ->
         got = 0;
#ifdef PROP_NO_INVALID_GRANT
         assert(crashes + pauses > 0);
#endif
         skip
    fi
  }
}

/* The provider's token endpoint, the primary grant (password): a new token family. */
inline password_grant(p, got)
{
  atomic { crash_point(p); got = next_token; live_refresh_tokens = live_refresh_tokens | BIT(got); next_token++ }
}

/*
 * Refresher.refresh(name, trigger) for process p, with `seen` the token the caller wants
 * replaced. Sets `result`, and `held[p]` when the caller gets a token.
 *
 * Each atomic step is one store command or one token request, with the local decisions
 * that follow it up to the next command: a crash or a switch to another process between
 * a command and those decisions would change nothing anyone else can see.
 */
#define REFRESHER_LOCALS \
  mtype result = R_NONE; \
  byte seen; bool taken; bool lost; \
  byte c_version; byte c_generation; byte c_token; \
  byte l_version; byte l_generation; byte l_token; \
  byte got; byte version; byte expected; byte attempt

/* #adoptable(record, seen): fresh, state ok, and not the token the caller wants replaced */
#define ADOPTABLE(t, reauth) (!(reauth) && (t) != seen && FRESH(t))

inline refresh(p)
{
  /* Refresher.refresh: before = repository.load(name); #adoptable(before, seen) */
  atomic {
    crash_point(p);
    if
    :: !row_exists -> result = R_NOT_FOUND; goto done
    :: ADOPTABLE(row_token, row_reauth) -> held[p] = row_token; result = R_ADOPTED; goto done
    :: else -> c_version = row_version; c_generation = row_generation; c_token = row_token
    fi
  }

  /* acquireLease: tryLock; when refused, onWait (load: adopt, or give up), then poll again */
  do
  :: try_lock(p, taken, lost);
     if
     :: lost -> result = R_STORE_ERROR; goto done  /* tryLock rejected: nothing to release */
     :: !lost && taken -> break
     :: else
     fi;
     atomic {
       crash_point(p);
       if
       :: !row_exists -> result = R_NOT_FOUND; goto done
       :: ADOPTABLE(row_token, row_reauth) -> held[p] = row_token; result = R_ADOPTED; goto done
       :: row_reauth -> result = R_REAUTH; goto done
       :: else -> l_version = row_version
       fi
     }
     /* pacingClock.sleep(lock.poll): polling again before anything changed sees the same,
        so the model waits until something a poll can see has changed */
     (lock_owner == 0 || !lock_live || row_version != l_version || !row_exists)
  od;

  /* Under the lease: try { … } finally { lease.release() } */
#ifndef NO_REREAD
  /* Re-read under the lock: whoever held it before us may have refreshed already. */
  atomic {
    crash_point(p);
    if
    :: !row_exists -> result = R_NOT_FOUND; goto release
    :: row_reauth -> result = R_REAUTH; goto release
    :: ADOPTABLE(row_token, false) -> held[p] = row_token; result = R_ADOPTED; goto release
    :: else -> c_version = row_version; c_generation = row_generation; c_token = row_token
    fi
  }
#endif

  /* #obtain: refreshTokenGrant(stored refresh token); a crash after it loses the answer */
  refresh_grant(p, c_token, got);
  if
  :: got != 0 -> goto persist
  :: else
  fi;
  /* invalid_grant: re-read before declaring the refresh token dead; adopt a sibling's rotation */
  atomic {
    crash_point(p);
    if
    :: row_exists && row_generation == c_generation && row_token != c_token ->
         held[p] = row_token; result = R_ADOPTED; goto release
    :: row_exists -> l_version = row_version; l_generation = row_generation; l_token = row_token
    :: else -> l_version = c_version; l_generation = c_generation; l_token = c_token  /* latest ?? current */
    fi
  }
  /* #startOver: strategy.obtainUnattended (Factus: the saved password), else #markReauthRequired */
  if
  :: relogin_possible -> password_grant(p, got); goto persist
  :: else
  fi;
  put(p, l_token, l_generation, true, l_version, version, lost);  /* best effort, fenced */
  result = R_REAUTH; goto release;

persist:
  /* #persist: save before anyone may use the tokens; retried under the lock, then fail closed */
  expected = c_version;
  attempt = 0;
  do
  :: attempt < SAVE_ATTEMPTS ->
       attempt++;
       put(p, got, c_generation, false, expected, version, lost);
       if
       :: lost -> skip  /* the save threw: retry (the write may have happened) */
       :: !lost && version != 0 -> held[p] = got; result = R_OURS; goto release
       :: else ->
            /* refused (compare-and-set or fence): read theirs */
            atomic {
              crash_point(p);
              if
              :: !row_exists -> result = R_NOT_FOUND; goto release  /* removedMeanwhile: a logout */
#ifndef NO_GEN_CHECK
              :: row_exists && row_generation != c_generation ->
                   held[p] = row_token; result = R_ADOPTED; goto release  /* a newer login wins */
#endif
              :: row_exists && row_token > got ->
                   held[p] = row_token; result = R_ADOPTED; goto release  /* newer tokens win */
              :: else -> l_version = row_version
              fi
            }
            /* same login, older tokens: our lease ran out; take the lock again if nobody holds it */
            try_lock(p, taken, lost);
            if
            :: taken && !lost -> expected = l_version
            :: else  /* an error: the next attempt */
            fi
       fi
  :: else ->
       /* StoreError: "could not save them … They were discarded and not used." */
       reported++; result = R_STORE_ERROR; goto release
  od;

release:
  unlock(p, lost);
done:
  /* forget the locals, so that runs that differ only in them are one state */
  c_version = 0; c_generation = 0; c_token = 0; l_version = 0; l_generation = 0; l_token = 0;
  got = 0; version = 0; expected = 0; attempt = 0; taken = false; lost = false; seen = 0
}

/* The first caller of keeper.getAccessToken in process p: ConnectionSession.#renew leads a renewal. */
proctype Caller(byte p)
{
  REFRESHER_LOCALS;
  /* freshToken() is stale (the hot path misses); #renew: no flight yet, this call starts one */
  atomic { crash_point(p); assert(flight[p] == 0); flight[p] = 1; seen = held[p] }
  refresh(p);
  atomic { flight[p] = 0; renewed[p] = true }
  finished++;
  goto end_caller;
died:
  finished++;
end_caller:
  skip
}

/*
 * A second caller in the same process, arriving while the first one's renewal runs (or after
 * it, when the token is served from memory): it shares that renewal's promise and starts none.
 */
proctype Joiner(byte p)
{
  /* ConnectionSession.#renew: this.#flight is set, so this caller awaits it */
  (flight[p] == 1 || renewed[p] || crashed[p]);
  (flight[p] == 0 || crashed[p]);
  finished++
}

/* The user, in process USER: keeper.logout, then keeper.connect (a new login). */
proctype User()
{
  bool taken; bool lost; byte token; byte version; byte existing;
  /* keeper.logout → withLease (acquireLease without adoption) */
  do
  :: try_lock(USER, taken, lost);
     if
     :: lost -> goto relogin  /* tryLock rejected: the logout fails, nothing to release */
     :: !lost && taken -> break
     :: else -> (lock_owner == 0 || !lock_live)  /* poll until the lock is free or run out */
     fi
  od;
  /* repository.load: NOT_FOUND if gone */
  atomic {
    crash_point(USER);
    if
    :: !row_exists -> goto logout_release
    :: else -> token = row_token
    fi
  }
  /* #revokeAndDelete: revokeToken(the refresh token) at the provider (RFC 7009) */
  atomic { crash_point(USER); live_refresh_tokens = live_refresh_tokens & ~BIT(token) }
  /* #deleteUnderLease → TokenStore.delete(name, fence): drops the row and its lock, only while
     the lease is live; the version is kept. Fenced out, the logout deletes nothing and says so. */
  atomic {
    crash_point(USER);
    if
    :: DELETE_FENCE_HOLDS(USER) ->
#ifdef PROP_ONE_WRITER
         assert(period_writer == 0 || period_writer == USER);  /* a delete is a write too */
#endif
         row_exists = false; lock_owner = 0; lock_live = false;
         logged_out = true
    :: else ->
         /* LOCK_TIMEOUT: "nothing was deleted. Its tokens were revoked at the provider all
            the same. Run `tokenkeeper logout` again." */
         reported++
    fi;
    reply(lost)  /* a lost reply: the logout reports a store error, whether or not it deleted */
  }
logout_release:
  unlock(USER, lost);

relogin:
  /* keeper.connect: strategy.firstTokens (the password grant), outside the lock */
  password_grant(USER, token);
  /* withLease */
  do
  :: try_lock(USER, taken, lost);
     if
     :: lost -> goto user_done
     :: !lost && taken -> break
     :: else -> (lock_owner == 0 || !lock_live)
     fi
  od;
  /* under the lease: load existing; save with expected = existing?.version ?? 0, fenced */
  atomic {
    crash_point(USER);
    if
    :: row_exists -> existing = row_version
    :: else -> existing = 0
    fi
  }
  put(USER, token, 2, false, existing, version, lost);
  unlock(USER, lost);
user_done:
  finished++;
  goto end_user;
died:
  finished++;
end_user:
  skip
}

/* Leases run out: when nobody renews them, or when a pause stops their holder's renewals. */
proctype Environment()
{
end:
  do
#ifndef NO_EXPIRY
  :: atomic { lock_owner != 0 && lock_live && !renewing[lock_owner] -> lock_live = false }  /* nobody renews it */
#endif
  :: atomic { lock_owner != 0 && lock_live && renewing[lock_owner] && !faults_over && pauses < PAUSES ->
       pauses++; lock_live = false }  /* its holder is paused past the lease (GC, SIGSTOP, partition) */
#ifdef NO_RENEW
  :: atomic { lock_owner != 0 && lock_live && renewing[lock_owner] -> lock_live = false }  /* a slow request outlives an unrenewed lease */
#endif
  od
}

init {
  REFRESHER_LOCALS;
  held[P_FIRST] = STALE; held[P_SECOND] = STALE;
  atomic {
    if
    :: relogin_possible = true
    :: relogin_possible = false
    fi;
    run Environment();
    run Caller(P_FIRST); run Joiner(P_FIRST); run Caller(P_SECOND);
    run User()
  }
  (finished == ACTORS);
#ifdef PROP_NO_LOST_TOKEN
  /* either the stored refresh token works, or the connection is gone or says it needs a login,
     or a crash lost it, or a failure that said so (a failed save, a logout fenced out) */
  assert(!row_exists || row_reauth || LIVE(row_token) || crashes > 0 || reported > 0);
#endif
  /* the next refresh, by a fresh process: `tokenkeeper refresh` (force: replace what is stored) */
  faults_over = true;
  seen = row_token;
  refresh(NEXT);
#ifdef PROP_NO_LOST_TOKEN
  /* after the next refresh, nothing is left unreported */
  assert(!row_exists || row_reauth || LIVE(row_token));
#endif
  all_checked = true;
died:
  skip
}

ltl no_wait_forever { <> all_checked }
