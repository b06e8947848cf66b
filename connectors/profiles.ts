/** The profiles a connector may name in `profile:`. */
import { awsIamIdentityCenterProfile } from './aws-iam-identity-center/profile.js';
import { genericProfile } from './generic/profile.js';
import type { Profile } from './profile.js';

const PROFILES: Record<string, Profile> = {
  generic: genericProfile,
  'aws-iam-identity-center': awsIamIdentityCenterProfile,
};

export const PROFILE_NAMES: readonly string[] = Object.keys(PROFILES);

export function profileNamed(name: string): Profile {
  const profile = PROFILES[name];
  if (!profile) throw new Error(`unknown connector profile ${name}; choose one of ${PROFILE_NAMES.join(', ')}`);
  return profile;
}
