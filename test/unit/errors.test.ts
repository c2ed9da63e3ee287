import { describe, expect, it } from 'vitest';
import {
  type AppError,
  ERROR_STATUS,
  ERRORS,
  type ErrorCode,
  pgRejectionReason,
  sqlState,
} from '../../shared/errors.ts';

// One call of every factory. The type makes a new factory fail to compile until it is listed here.
const calls: Record<keyof typeof ERRORS, () => AppError> = {
  badRequest: () => ERRORS.badRequest('bad'),
  validation: () => ERRORS.validation([{ field: 'key', message: 'required' }]),
  invalidPath: () => ERRORS.invalidPath('bad path'),
  pathEscapes: () => ERRORS.pathEscapes(),
  invalidPart: () => ERRORS.invalidPart('part 2'),
  invalidImage: () => ERRORS.invalidImage('image_path', 'not a TIFF'),
  invalidH5ad: () => ERRORS.invalidH5ad('h5ad_path', 'not HDF5'),
  notAFile: () => ERRORS.notAFile('image_path'),
  unknownMarkerCols: () => ERRORS.unknownMarkerCols('marker_cols', 'x'),
  backendNotAvailable: () => ERRORS.backendNotAvailable('vast'),
  unauthorized: () => ERRORS.unauthorized('expired', 'Token expired'),
  forbidden: () => ERRORS.forbidden('no', 'user_subdir'),
  pathNotAllowed: () => ERRORS.pathNotAllowed('image_path', 'outside'),
  notFound: () => ERRORS.notFound('dataset', 'ds1'),
  noRoute: () => ERRORS.noRoute('GET', '/x'),
  backendNotConfigured: () => ERRORS.backendNotConfigured('vast'),
  userDirNotFound: () => ERRORS.userDirNotFound('amick', 'vast'),
  inputNotFound: () => ERRORS.inputNotFound('input_file', 'missing'),
  sourceMissing: () => ERRORS.sourceMissing('gone'),
  methodNotAllowed: () => ERRORS.methodNotAllowed('PATCH'),
  conflict: () => ERRORS.conflict('exists'),
  sourceStale: () => ERRORS.sourceStale('changed'),
  tooLarge: () => ERRORS.tooLarge('big'),
  unsupportedMediaType: () => ERRORS.unsupportedMediaType('text/plain'),
  rangeNotSatisfiable: () => ERRORS.rangeNotSatisfiable('bytes=10-', 5),
  tooMany: () => ERRORS.tooMany('busy', 7),
  internal: () => ERRORS.internal(),
  config: () => ERRORS.config('missing key'),
  unavailable: () => ERRORS.unavailable('down'),
  deliveryCapped: () => ERRORS.deliveryCapped('later', { remaining: 3 }),
  withField: () => ERRORS.withField(ERRORS.invalidPath('has ..'), 'output_dir'),
};

describe('the error vocabulary', () => {
  it('every code has a factory, and every error carries the status its code is listed with', () => {
    const made = Object.values(calls).map((f) => f());
    expect(new Set(made.map((e) => e.code))).toEqual(new Set(Object.keys(ERROR_STATUS)));
    for (const e of made) {
      expect(e.status).toBe(ERROR_STATUS[e.code]);
      const body = e.toBody();
      expect(body.statusCode).toBe(e.status);
      expect(body.code).toBe(e.code);
      expect(body.error).not.toBe('Error'); // every status in the table has its reason phrase
      expect(body.message.length).toBeGreaterThan(0);
    }
  });

  it('closes the union: an unknown code does not type-check', () => {
    // @ts-expect-error 'NO_SUCH_CODE' is not an ErrorCode
    const bad: ErrorCode = 'NO_SUCH_CODE';
    expect(bad in ERROR_STATUS).toBe(false);
  });

  it('carries the headers its status needs', () => {
    expect(ERRORS.rangeNotSatisfiable('bytes=10-', 5).headers).toEqual({
      'Content-Range': 'bytes */5',
    });
    expect(ERRORS.tooMany('busy', 7).headers).toEqual({ 'Retry-After': '7' });
    expect(ERRORS.unavailable('down').headers).toEqual({ 'Retry-After': '5' });
    expect(ERRORS.deliveryCapped('later', {}).headers).toEqual({ 'Retry-After': '1' });
  });

  it('names the field a refusal is about', () => {
    const e = ERRORS.withField(ERRORS.invalidPath('has ..'), 'output_dir');
    expect(e.code).toBe('INVALID_PATH');
    expect(e.message).toBe('output_dir: has ..');
    expect(e.details).toEqual({ field: 'output_dir' });
  });

  it('tells a Postgres rejection of the data from a transient state', () => {
    const rejected = Object.assign(new Error('invalid input syntax'), { code: '22P02' });
    const cancelled = Object.assign(new Error('canceling statement'), { code: '57014' });
    const node = Object.assign(new Error('refused'), { code: 'ECONNREFUSED' });
    expect(sqlState(rejected)).toBe('22P02');
    expect(sqlState(node)).toBeUndefined();
    expect(pgRejectionReason(rejected)).toBe(
      'database rejected the data (22P02): invalid input syntax',
    );
    expect(pgRejectionReason(cancelled)).toBeUndefined();
    expect(pgRejectionReason(node)).toBeUndefined();
  });
});
