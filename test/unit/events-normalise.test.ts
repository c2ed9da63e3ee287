import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeRecordKey, normaliseEvent } from '../../shared/ingest/normalise-event.ts';

const dir = 'test/fixtures/events';
const load = (f: string) =>
  JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Record<string, unknown>;

/** What each third-party event file must normalise to (or why it is rejected). */
const expected: Record<
  string,
  { type?: string; bucket?: string; key?: string; etag?: string; rejected?: RegExp }
> = {
  'minio_docs_kafka_put.json': { type: 'created', bucket: 'images', key: 'myphoto.jpg' },
  'minio_docs_nsq_put.json': {
    type: 'created',
    bucket: 'images',
    key: 'gopher.jpg',
    etag: '5337769ffa594e742408ad3f30713cd7',
  },
  'minio_xopera_webhook_put_multipart_etag.json': { type: 'created' },
  'minio_kafka_capture_put.json': {
    type: 'created',
    bucket: 'my-bucket',
    key: 'a.txt',
    etag: '4c850c5b3b2756e67a91bad8e046ddac',
  },
  'minio_kafka_capture_put_utf8_key.json': { type: 'created', bucket: 'my-bucket', key: '需求.md' },
  'minio_kafka_capture_head.json': {
    rejected: /not an object created\/removed event: 's3:ObjectAccessed:Head'/,
  },
  'minio_kafka_capture_delete.json': { type: 'removed', bucket: 'my-bucket', key: 'b.txt' },
  'minio_webhook_capture_put_plus_key.json': {
    type: 'created',
    bucket: 'vd-main',
    key: 'Tile_+002_+002.mtl',
  },
  'minio_webhook_capture_delete_plus_key.json': { type: 'removed', key: 'Tile_+002_+002.mtl' },
  'aws_lambda_go_s3-event.json': { type: 'created', bucket: 'sourcebucket', key: 'HappyFace.jpg' },
  'aws_lambda_go_s3-event-with-decoded.json': { type: 'created', key: 'Happy Face.jpg' },
  'powertools_s3EventDeleteObject.json': { type: 'removed' },
  'powertools_s3EventBridgeNotificationObjectCreatedEvent.json': {
    type: 'created',
    bucket: 'example-bucket',
    key: 'IMG_m7fzo3.jpg',
    etag: '4e68adba0abe2dc8653dc3354e14c01d',
  },
  'cloudevent_gcf_conformance_storage_finalized.json': {
    type: 'created',
    bucket: 'some-bucket',
    key: 'folder/Test.cs',
  },
  'cloudevent_gcf_conformance_legacy_storage_change.json': {
    type: 'removed',
    bucket: 'sample-bucket',
    key: 'MyFile',
  },
  'cloudevent_vanus_s3_adapter.json': { type: 'created', bucket: 'mybucket', key: 'HappyFace.jpg' },
  'gcs_StorageObjectData-complex.json': { type: 'created', bucket: 'sample-bucket', key: 'MyFile' },
};

describe('event normalisation over every third-party event file', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  it('has an expectation for every fixture', () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });
  for (const file of files) {
    it(file, () => {
      const exp = expected[file] as (typeof expected)[string];
      const { events, rejected } = normaliseEvent({}, load(file));
      if (exp.rejected) {
        expect(events).toEqual([]);
        expect(rejected.map((r) => r.reason).join(';')).toMatch(exp.rejected);
        return;
      }
      expect(rejected).toEqual([]);
      expect(events).toHaveLength(1);
      const { rejected: _r, ...want } = exp;
      expect(events[0]).toMatchObject(want);
    });
  }
});

describe('CloudEvents binary mode and key decoding', () => {
  it('reads ce-* headers with the S3 record as the body', () => {
    const record = (load('aws_lambda_go_s3-event.json').Records as unknown[])[0];
    const { events } = normaliseEvent(
      {
        'ce-specversion': '1.0',
        'ce-type': 'com.amazonaws.s3.ObjectCreated:Put',
        'ce-source': 'x',
      },
      record,
    );
    expect(events[0]).toMatchObject({
      type: 'created',
      bucket: 'sourcebucket',
      key: 'HappyFace.jpg',
      source: 'cloudevent',
    });
  });

  it('rejects CloudEvents that are not object changes, with the reason', () => {
    const { events, rejected } = normaliseEvent(
      { 'ce-specversion': '1.0', 'ce-type': 'dev.knative.sources.ping' },
      { hello: 1 },
    );
    expect(events).toEqual([]);
    expect(rejected[0]?.reason).toContain('dev.knative.sources.ping');
  });

  it('decodes form-encoded keys: %2B is +, + is a space, UTF-8 percent-escapes', () => {
    expect(decodeRecordKey('Tile_%2B002.h5')).toBe('Tile_+002.h5');
    expect(decodeRecordKey('my+file.h5')).toBe('my file.h5');
    expect(decodeRecordKey('dir%2F%E9%9C%80.h5')).toBe('dir/需.h5');
    expect(decodeRecordKey('bad%E9')).toBe('bad%E9');
  });

  it('rejects bodies that are not notifications', () => {
    expect(normaliseEvent({}, null).rejected[0]?.reason).toBe('body is not a JSON object');
    expect(normaliseEvent({}, { foo: 1 }).rejected[0]?.reason).toBe(
      'unrecognised notification format',
    );
  });
});
