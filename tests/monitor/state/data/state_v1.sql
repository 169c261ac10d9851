-- A state store written by schema version 1 (modelhealthd 0.1.0), for the migration tests.
BEGIN TRANSACTION;
CREATE TABLE alerts (
	id INTEGER NOT NULL, 
	source VARCHAR(16) NOT NULL, 
	group_key TEXT NOT NULL, 
	fingerprint VARCHAR(128) NOT NULL, 
	starts_at VARCHAR(64) NOT NULL, 
	status VARCHAR(16) NOT NULL, 
	received_at FLOAT NOT NULL, 
	payload TEXT NOT NULL, 
	processed INTEGER NOT NULL, 
	PRIMARY KEY (id), 
	CONSTRAINT uq_alert_episode UNIQUE (source, group_key, fingerprint, starts_at)
);
CREATE TABLE checks (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	version VARCHAR(16), 
	at FLOAT NOT NULL, 
	ok INTEGER NOT NULL, 
	error TEXT, 
	measurements TEXT NOT NULL, 
	details TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "checks" VALUES(1,'churn','2',1700000200.0,1,NULL,'{"drift_share": 0.1, "rows": 500.0}','{"notes": []}');
CREATE TABLE decisions (
	id INTEGER NOT NULL, 
	at FLOAT NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	model VARCHAR(64), 
	rule VARCHAR(128), 
	job_id VARCHAR(32), 
	message TEXT NOT NULL, 
	data TEXT NOT NULL, 
	PRIMARY KEY (id)
);
INSERT INTO "decisions" VALUES(1,1700000102.0,'promotion','churn',NULL,'561e200ddc9f4f77','churn: promoted v2 (was v1)','{}');
CREATE TABLE jobs (
	id VARCHAR(32) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	pipeline VARCHAR(64) NOT NULL, 
	params TEXT NOT NULL, 
	"trigger" TEXT NOT NULL, 
	rule VARCHAR(128), 
	state VARCHAR(16) NOT NULL, 
	created_at FLOAT NOT NULL, 
	started_at FLOAT, 
	finished_at FLOAT, 
	heartbeat_at FLOAT, 
	progress TEXT, 
	result TEXT, 
	error TEXT, 
	champion_version VARCHAR(16), 
	candidate_version VARCHAR(16), 
	handled_at FLOAT, 
	PRIMARY KEY (id)
);
INSERT INTO "jobs" VALUES('561e200ddc9f4f77','churn','retrain','{"max_epochs": 5}','{"rule": "drift"}','drift','succeeded',1700000000.0,1700000010.0,1700000100.0,1700000010.0,NULL,'{"verdict": {"passed": true}}',NULL,'1','2',NULL);
CREATE TABLE labels (
	model VARCHAR(64) NOT NULL, 
	request_id VARCHAR(128) NOT NULL, 
	label TEXT NOT NULL, 
	at FLOAT NOT NULL, 
	PRIMARY KEY (model, request_id)
);
INSERT INTO "labels" VALUES('churn','r1','1',1700000000.0);
CREATE TABLE meta (
	"key" VARCHAR(64) NOT NULL, 
	value TEXT NOT NULL, 
	PRIMARY KEY ("key")
);
INSERT INTO "meta" VALUES('schema_version','1');
CREATE TABLE promotions (
	id INTEGER NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	from_version VARCHAR(16), 
	to_version VARCHAR(16) NOT NULL, 
	kind VARCHAR(16) NOT NULL, 
	state VARCHAR(16) NOT NULL, 
	job_id VARCHAR(32), 
	reason TEXT NOT NULL, 
	created_at FLOAT NOT NULL, 
	finished_at FLOAT, 
	reload TEXT, 
	PRIMARY KEY (id)
);
INSERT INTO "promotions" VALUES(1,'churn','1','2','promote','done','561e200ddc9f4f77','better',1700000101.0,1700000102.0,NULL);
CREATE TABLE rule_states (
	rule VARCHAR(128) NOT NULL, 
	model VARCHAR(64) NOT NULL, 
	state TEXT NOT NULL, 
	updated_at FLOAT NOT NULL, 
	PRIMARY KEY (rule, model)
);
INSERT INTO "rule_states" VALUES('drift','churn','{"active_since": 1699999000.0, "state": "firing"}',1700000000.0);
CREATE INDEX ix_checks_model_at ON checks (model, at);
CREATE INDEX ix_jobs_model_state ON jobs (model, state);
CREATE INDEX ix_promotions_model ON promotions (model, id);
CREATE INDEX ix_decisions_model_id ON decisions (model, id);
CREATE INDEX ix_labels_model_at ON labels (model, at);
COMMIT;
