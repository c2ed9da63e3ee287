// The part of the AWS SDK the functions use, loaded only through loadS3Sdk() (s3-sdk.ts). The build
// bundles this module on its own, as dist/s3-sdk.cjs, so a function's start-up bundle does not carry
// the SDK's code (see infra/build/build.ts). Add a name here to use it through loadS3Sdk().
export {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
export { Upload } from '@aws-sdk/lib-storage';
