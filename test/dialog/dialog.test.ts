/**
 * DialogTable (shared/spec/dialog-htable.md §2): states driven by replies
 * and in-dialog requests, $dlg_var, and the timers of §2.3 on a wheel whose
 * clock the test moves (the dialog timers are in seconds).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DialogTable, DlgState, type Dialog } from '../../src/dialog/dialog';
import { Method } from '../../src/native/layout';
import { type RequestContext, type TxnVars } from '../../src/routes/api';
import { isParseFailure, parseMessage, type SipMessage } from '../../src/sip/message';
import { TimerWheel } from '../../src/tm/timer-wheel';

function msg(text: string): SipMessage {
  const m = parseMessage(Buffer.from(text.replace(/\n/g, '\r\n'), 'latin1'));
  if (isParseFailure(m)) throw new Error(`test message does not parse: ${m.error}`);
  return m;
}

const CALL = 'dlg-test-1@127.0.0.10';

function request(method: string, cseq: number, toTag?: string, fromTag = 'caller1'): SipMessage {
  return msg(
    `${method} sip:bob@127.0.0.2:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.10:5060;branch=z9hG4bK-${method}-${cseq}
From: <sip:alice@127.0.0.10>;tag=${fromTag}
To: <sip:bob@example.net>${toTag ? `;tag=${toTag}` : ''}
Call-ID: ${CALL}
CSeq: ${cseq} ${method}
Contact: <sip:alice@127.0.0.10:5060>
Content-Length: 0

`,
  );
}

function ok200(): SipMessage {
  return msg(
    `SIP/2.0 200 OK
Via: SIP/2.0/UDP 127.0.0.10:5060;branch=z9hG4bK-INVITE-1
Record-Route: <sip:127.0.0.1;lr;ftag=caller1>
Record-Route: <sip:127.0.0.9;lr>
From: <sip:alice@127.0.0.10>;tag=caller1
To: <sip:bob@example.net>;tag=callee1
Call-ID: ${CALL}
CSeq: 1 INVITE
Contact: <sip:bob@127.0.0.2:5060>
Content-Length: 0

`,
  );
}

function setup(defaultTimeout = 30) {
  let nowMs = 1_000_000;
  const wheel = new TimerWheel({ tickMs: 10, clock: { now: () => nowMs } });
  const table = new DialogTable({ wheel, defaultTimeout, earlyTimeout: 20, noackTimeout: 6, linger: 5 });
  const advance = (seconds: number): void => {
    // second by second, as the shard's ticker would
    for (let i = 0; i < seconds; i++) {
      nowMs += 1000;
      wheel.advance();
    }
  };
  const manage = (m: SipMessage): { d: Dialog | undefined; vars: TxnVars } => {
    const vars: TxnVars = {};
    const d = table.manage({ msg: m, vars } as unknown as RequestContext);
    return { d, vars };
  };
  return { table, advance, manage };
}

describe('DialogTable', () => {
  it('walks a call through states 1-5 and unlinks it after the linger time', () => {
    const { table, advance, manage } = setup();
    const { d, vars } = manage(request('INVITE', 1));
    assert.ok(d);
    assert.equal(d.state, DlgState.Unconfirmed);
    assert.equal(table.inState(1), 1);
    table.responseOut(vars, Method.INVITE, 100, undefined);
    assert.equal(d.state, DlgState.Unconfirmed, '100 trying does not make it early');
    table.responseOut(vars, Method.INVITE, 180, undefined);
    assert.equal(d.state, DlgState.Early);
    table.responseOut(vars, Method.INVITE, 200, ok200());
    assert.equal(d.state, DlgState.ConfirmedNa);
    assert.equal(d.calleeTag, 'callee1');
    assert.equal(d.calleeContact, 'sip:bob@127.0.0.2:5060');
    assert.equal(d.routeSet, '<sip:127.0.0.1;lr;ftag=caller1>,<sip:127.0.0.9;lr>');
    assert.deepEqual(d.caller, { tag: 'caller1', contact: 'sip:alice@127.0.0.10:5060', cseq: '1', routeSet: d.routeSet });

    const ack = manage(request('ACK', 1, 'callee1'));
    assert.equal(ack.d, d, 'the ACK finds the dialog by Call-ID and tags');
    assert.equal(d.state, DlgState.Confirmed);
    const bye = manage(request('BYE', 2, 'callee1'));
    assert.equal(bye.d, d);
    assert.equal(d.state, DlgState.Deleted);
    assert.equal(d.byeSeen, true);
    assert.equal(d.callerCseq, 2);
    assert.equal(table.inState(4), 0);
    assert.equal(table.inState(5), 1);

    // a BYE retransmission within the linger time still finds it
    advance(4);
    assert.equal(manage(request('BYE', 2, 'callee1')).d, d);
    advance(2);
    assert.equal(table.size, 0);
    assert.equal(table.inState(5), 0);
    assert.equal(manage(request('BYE', 2, 'callee1')).d, undefined);
  });

  it('ends a confirmed dialog at its lifetime, each in-dialog request pushing it back', () => {
    const { table, advance, manage } = setup(30);
    const { d, vars } = manage(request('INVITE', 1));
    table.responseOut(vars, Method.INVITE, 200, ok200());
    manage(request('ACK', 1, 'callee1'));
    assert.equal(d!.state, DlgState.Confirmed);
    advance(20);
    // an in-dialog request from the callee's side at t = 20 s: lifetime runs from here
    manage(request('INFO', 7, 'caller1', 'callee1'));
    assert.equal(d!.calleeCseq, 7);
    advance(25); // t = 45 s: past the first deadline (30 s), before the new one (50 s)
    assert.equal(d!.state, DlgState.Confirmed, 'the pushed-back lifetime holds');
    advance(6); // t = 51 s
    assert.equal(d!.state, DlgState.Deleted, 'ended at the lifetime');
    assert.equal(d!.byeSeen, false);
    advance(6);
    assert.equal(table.size, 0);
  });

  it('ends a dialog with no ACK after noack_timeout, and one never answered after early_timeout', () => {
    const { table, advance, manage } = setup(3600);
    const a = manage(request('INVITE', 1));
    table.responseOut(a.vars, Method.INVITE, 200, ok200());
    advance(5);
    assert.equal(a.d!.state, DlgState.ConfirmedNa);
    advance(2);
    assert.equal(a.d!.state, DlgState.Deleted, 'no ACK within noack_timeout');

    const b = manage(request('INVITE', 1, undefined, 'caller2'));
    assert.notEqual(b.d, a.d, 'another From tag: another dialog on the same Call-ID');
    table.responseOut(b.vars, Method.INVITE, 183, undefined);
    advance(19);
    assert.equal(b.d!.state, DlgState.Early);
    advance(2);
    assert.equal(b.d!.state, DlgState.Deleted, 'early_timeout');
    advance(6);
    assert.equal(table.size, 0);
    assert.deepEqual(table.list(), []);
  });

  it('ends an unconfirmed dialog on a negative final reply', () => {
    const { table, manage } = setup();
    const { d, vars } = manage(request('INVITE', 1));
    table.responseOut(vars, Method.INVITE, 180, undefined);
    table.responseOut(vars, Method.INVITE, 486, undefined);
    assert.equal(d!.state, DlgState.Deleted);
    assert.equal(d!.timeoutTs, 0);
  });

  it('keeps $dlg_var values in creation order; a reassigned name becomes the newest; empty deletes', () => {
    const { table, manage } = setup();
    const { d, vars } = manage(request('INVITE', 1));
    assert.equal(table.setVar(vars, 'du_primary', 'sip:127.0.0.2:5060'), true);
    table.setVar(vars, 'du_secondary', 'sip:127.0.0.3:5060');
    table.setVar(vars, 'x', '1');
    table.setVar(vars, 'du_primary', 'sip:127.0.0.4:5060');
    assert.deepEqual(d!.vars.entries(), [
      ['du_secondary', 'sip:127.0.0.3:5060'],
      ['x', '1'],
      ['du_primary', 'sip:127.0.0.4:5060'],
    ]);
    table.setVar(vars, 'x', '');
    assert.equal(d!.vars.has('x'), false);
    assert.equal(d!.vars.size, 2);
    // found by tags from another message's context
    assert.equal(table.getVar({}, 'du_secondary', request('BYE', 2, 'callee1')), 'sip:127.0.0.3:5060');
    assert.equal(table.setVar({}, 'y', 'v'), false, 'no dialog bound and no message');
  });
});
