-- Where a close comes from. A close read from the chain (an account read that
-- finds the account gone, at the read's slot) only says "closed by then"; the
-- transaction that emptied the account says when: its slot and block time.
-- closed_by_tx marks closes of the second kind. A close from a transaction
-- replaces a close from a read (whatever their order of arrival), and a close
-- from a read never replaces one from a transaction, so closed_slot and
-- closed_at end as the closing transaction's whenever it was indexed.
ALTER TABLE account_closures
    ADD COLUMN closed_by_tx BOOLEAN NOT NULL DEFAULT FALSE;

COMMENT ON COLUMN account_closures.closed_by_tx IS
    'true: closed_slot/closed_at are the slot and block time of the transaction that emptied '
    'the account; false: the slot of a read that found it gone, stamped when written.';
